/* The snapshot of Tailscale's default DERP map, embedded as bytes (see data/README.md). */
	.section .rodata
	.global dc_default_derpmap_json
	.global dc_default_derpmap_json_size
	.balign 16
dc_default_derpmap_json:
	.incbin DERPMAP_FILE
dc_default_derpmap_json_end:
	.byte 0
	.balign 8
dc_default_derpmap_json_size:
	.quad dc_default_derpmap_json_end - dc_default_derpmap_json
	.section .note.GNU-stack,"",@progbits
