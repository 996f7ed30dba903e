# fish completion for derpcheck. Keep in step with `derpcheck help COMMAND`.

set -l commands validate netcheck ping status cert diagnose stun server exporter debug help
complete -c derpcheck -f
complete -c derpcheck -n "not __fish_seen_subcommand_from $commands" -a validate -d 'check a DERP map or tailnet policy file'
complete -c derpcheck -n "not __fish_seen_subcommand_from $commands" -a netcheck -d 'measure UDP, NAT behaviour and latency to every DERP region'
complete -c derpcheck -n "not __fish_seen_subcommand_from $commands" -a ping -d 'relay test packets through a DERP region'
complete -c derpcheck -n "not __fish_seen_subcommand_from $commands" -a status -d 'show which peers are direct or relayed, and why'
complete -c derpcheck -n "not __fish_seen_subcommand_from $commands" -a cert -d 'explain TLS certificate problems of a DERP server'
complete -c derpcheck -n "not __fish_seen_subcommand_from $commands" -a diagnose -d 'check one region end to end and give one verdict'
complete -c derpcheck -n "not __fish_seen_subcommand_from $commands" -a stun -d 'send STUN binding requests and show the mapped address'
complete -c derpcheck -n "not __fish_seen_subcommand_from $commands" -a server -d 'check a derper deployment on the machine it runs on'
complete -c derpcheck -n "not __fish_seen_subcommand_from $commands" -a exporter -d 'serve Prometheus metrics of every region, diagnosed on a schedule'
complete -c derpcheck -n "not __fish_seen_subcommand_from $commands" -a help -d 'show help for a command'
complete -c derpcheck -n "__fish_seen_subcommand_from help" -a "validate netcheck ping status cert diagnose stun server exporter debug"

# Global options
complete -c derpcheck -l format -x -a 'text json json-line prometheus' -d 'output format'
complete -c derpcheck -l color -x -a 'auto always never' -d 'colour text output'
complete -c derpcheck -s v -l verbose -d 'say more about what is being done'
complete -c derpcheck -s q -l quiet -d 'print only problems'
complete -c derpcheck -s h -l help -d 'show help and exit'
complete -c derpcheck -l version -d 'print the version and exit'

# Network options (validate uses all but --derp-map)
set -l netcmds validate netcheck ping status cert diagnose stun server exporter
complete -c derpcheck -n "__fish_seen_subcommand_from netcheck ping status cert diagnose stun server exporter" -l derp-map -r -F -d 'DERP map, policy file or Headscale config'
complete -c derpcheck -n "__fish_seen_subcommand_from $netcmds" -l map-format -x -a 'auto json hujson yaml headscale' -d 'how to read map files'
complete -c derpcheck -n "__fish_seen_subcommand_from $netcmds" -l ca-file -r -F -d 'trust the CA certificates in FILE'
complete -c derpcheck -n "__fish_seen_subcommand_from $netcmds" -l insecure -d 'skip TLS certificate checks (warns)'
complete -c derpcheck -n "__fish_seen_subcommand_from $netcmds" -l timeout -x -a '1s 2s 5s 10s 30s' -d 'give up waiting after DURATION'
complete -c derpcheck -n "__fish_seen_subcommand_from validate netcheck ping cert diagnose stun server exporter" -s 4 -l ipv4 -d 'use IPv4 only'
complete -c derpcheck -n "__fish_seen_subcommand_from validate netcheck ping cert diagnose stun server exporter" -s 6 -l ipv6 -d 'use IPv6 only'

complete -c derpcheck -n "__fish_seen_subcommand_from ping diagnose debug netcheck" -l transport -x -a 'derp websocket auto' -d 'how DERP travels after TLS'

# validate
complete -c derpcheck -n "__fish_seen_subcommand_from validate" -l strict -d 'treat warnings as errors'
complete -c derpcheck -n "__fish_seen_subcommand_from validate" -F -a 'embedded: -'

# status
complete -c derpcheck -n "__fish_seen_subcommand_from status" -l socket -r -F -d "tailscaled's socket"
complete -c derpcheck -n "__fish_seen_subcommand_from status" -l file -r -F -d 'saved tailscale status --json output (- for stdin)'
complete -c derpcheck -n "__fish_seen_subcommand_from status" -l peer -x -d 'show one peer in detail'
complete -c derpcheck -n "__fish_seen_subcommand_from status" -l active -d 'list only active peers'

# cert
complete -c derpcheck -n "__fish_seen_subcommand_from cert" -l servername -x -d 'TLS name to send and check'
complete -c derpcheck -n "__fish_seen_subcommand_from cert" -l region -x -d 'check every DERP node of region ID'
complete -c derpcheck -n "__fish_seen_subcommand_from cert" -l no-aia -d 'do not fetch missing intermediates'
complete -c derpcheck -n "__fish_seen_subcommand_from cert" -l write-fullchain -r -F -d 'write the corrected chain to FILE'
complete -c derpcheck -n "__fish_seen_subcommand_from cert" -l certdir -x -a '(__fish_complete_directories)' -d "derper's --certdir"
complete -c derpcheck -n "__fish_seen_subcommand_from cert" -l hostname -x -d "derper's --hostname"
complete -c derpcheck -n "__fish_seen_subcommand_from cert" -l cert-file -r -F -d 'check this certificate file'
complete -c derpcheck -n "__fish_seen_subcommand_from cert" -l key-file -r -F -d 'check this key file'

# ping
complete -c derpcheck -n "__fish_seen_subcommand_from ping" -l node -x -d 'use this node of the region'
complete -c derpcheck -n "__fish_seen_subcommand_from ping" -l mesh -d 'put A and B on different nodes of the region'
complete -c derpcheck -n "__fish_seen_subcommand_from ping" -s c -l count -x -a '1 5 10 100' -d 'send N packets'
complete -c derpcheck -n "__fish_seen_subcommand_from ping" -s i -l interval -x -a '100ms 200ms 500ms 1s' -d 'wait DURATION between packets'
complete -c derpcheck -n "__fish_seen_subcommand_from ping" -l size -x -a '33 64 1200 65536' -d 'bytes per relayed packet'
complete -c derpcheck -n "__fish_seen_subcommand_from ping" -l rate -x -a '1000 5000 10000 50000' -d 'load test: packets per second from A to B'
complete -c derpcheck -n "__fish_seen_subcommand_from ping" -l flood -d 'load test: raise the rate until the relay drops packets'

# diagnose (and debug derp)
complete -c derpcheck -n "not __fish_seen_subcommand_from $commands" -a debug -d 'debug derp REGION: the same as diagnose REGION'
complete -c derpcheck -n "__fish_seen_subcommand_from debug; and not __fish_seen_subcommand_from derp" -a derp -d 'check one region end to end'
complete -c derpcheck -n "__fish_seen_subcommand_from diagnose debug" -s c -l count -x -a '1 3 5 10' -d 'relayed test pings per node and mesh pair'
complete -c derpcheck -n "__fish_seen_subcommand_from diagnose debug" -l every -x -a '30s 1m 5m 15m 1h' -d 'run again every DURATION'
complete -c derpcheck -n "__fish_seen_subcommand_from diagnose debug" -s o -l output -r -F -d 'write each report to FILE atomically'
complete -c derpcheck -n "__fish_seen_subcommand_from diagnose debug" -l all -d 'check every region of the map at the same time'
complete -c derpcheck -n "__fish_seen_subcommand_from diagnose debug" -l deadline -x -a '10s 30s 1m 5m' -d 'start no region after DURATION'
complete -c derpcheck -n "__fish_seen_subcommand_from diagnose debug exporter" -l parallel -x -a '1 4 8 32' -d 'check at most N regions at a time'
complete -c derpcheck -n "__fish_seen_subcommand_from diagnose debug exporter" -l cert-warn-days -x -a '7 14 30' -d 'warn when a certificate expires within DAYS'
complete -c derpcheck -n "__fish_seen_subcommand_from diagnose debug" -l load-rate -x -a '100 1000 5000' -d 'relay PPS packets/s of 1200 bytes for one second through each node'
complete -c derpcheck -n "__fish_seen_subcommand_from diagnose debug exporter" -l mesh-psk-file -r -F -d "derper's mesh key: check that every node lists the other nodes' mesh clients"

# exporter
complete -c derpcheck -n "__fish_seen_subcommand_from exporter" -l listen -x -d 'serve HTTP on ADDR:PORT'
complete -c derpcheck -n "__fish_seen_subcommand_from exporter" -l interval -x -a '15s 30s 60s 5m' -d 'diagnose every region this often'
complete -c derpcheck -n "__fish_seen_subcommand_from exporter" -l probe-limit -x -a '1 4 8' -d 'run at most N /probe requests at a time'
complete -c derpcheck -n "__fish_seen_subcommand_from exporter" -l probe-timeout -x -a '10s 30s 1m' -d 'answer a slower /probe with 503'
complete -c derpcheck -n "__fish_seen_subcommand_from exporter" -s c -l count -x -a '1 3 5 10' -d 'relayed test pings per node and mesh pair'
complete -c derpcheck -n "__fish_seen_subcommand_from diagnose debug netcheck" -l stun-port-guess -x -d 'also try these UDP ports when STUNPort does not answer'

# netcheck
complete -c derpcheck -n "__fish_seen_subcommand_from netcheck" -l every -x -a '30s 1m 5m' -d 'repeat the report every DURATION'
complete -c derpcheck -n "__fish_seen_subcommand_from netcheck" -l bind-address -x -d 'send the STUN probes from this local address'
complete -c derpcheck -n "__fish_seen_subcommand_from netcheck" -l bind-port -x -d 'send the STUN probes from this local UDP port'
complete -c derpcheck -n "__fish_seen_subcommand_from netcheck status" -l no-portmap -d 'do not ask the gateway for UPnP, NAT-PMP or PCP'
complete -c derpcheck -n "__fish_seen_subcommand_from netcheck" -l hairpin -d 'test whether the NAT hairpins'
complete -c derpcheck -n "__fish_seen_subcommand_from netcheck" -l check-derp -d "connect to every region's DERP port"
complete -c derpcheck -n "__fish_seen_subcommand_from netcheck" -l extra-stun -x -d 'one more STUN server for the NAT test'
complete -c derpcheck -n "__fish_seen_subcommand_from netcheck" -l socket -r -F -d "tailscaled's socket (for its DERP map)"
complete -c derpcheck -n "__fish_seen_subcommand_from status" -l netcheck -d "measure this machine's NAT in the same run"
# stun
complete -c derpcheck -n "__fish_seen_subcommand_from stun" -s c -l count -x -a '1 3 5 10 20' -d 'probes per address'
complete -c derpcheck -n "__fish_seen_subcommand_from stun" -s i -l interval -x -a '0 20ms 100ms 200ms 1s' -d 'time between the probes to one address'
complete -c derpcheck -n "__fish_seen_subcommand_from stun" -l style -x -a 'tailscale rfc5389' -d 'request style'
complete -c derpcheck -n "__fish_seen_subcommand_from stun" -l region -x -d 'probe every node of this region'
complete -c derpcheck -n "__fish_seen_subcommand_from stun" -l bind-address -x -d 'send from this local address'
complete -c derpcheck -n "__fish_seen_subcommand_from stun" -l bind-port -x -d 'send from this local UDP port'

# server
complete -c derpcheck -n "__fish_seen_subcommand_from server" -l compose -r -F -d 'read the deployment from a compose file'
complete -c derpcheck -n "__fish_seen_subcommand_from server" -l service -x -d 'the compose service that runs derper'
complete -c derpcheck -n "__fish_seen_subcommand_from server" -l inspect -r -F -d 'read saved docker inspect output'
complete -c derpcheck -n "__fish_seen_subcommand_from server" -l unit -r -F -d 'read a systemd unit file'
complete -c derpcheck -n "__fish_seen_subcommand_from server" -l pid -x -a '(__fish_complete_pids)' -d 'the running derper'
complete -c derpcheck -n "__fish_seen_subcommand_from server" -l region -x -d 'look for the node in region ID'
complete -c derpcheck -n "__fish_seen_subcommand_from server" -l node -x -d "this server's node in the map"
complete -c derpcheck -n "__fish_seen_subcommand_from server" -l resolve -d 'look the HostName up in DNS'
