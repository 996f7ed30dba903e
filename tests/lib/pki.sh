# Throw-away certificates for the tests and the demo (keys never leave the directory
# given; nothing here is ever trusted by the system). The generators are scripts in
# tests/tools, so that C unit tests can run them too; these are the shell entry points.
#
#   pki_derp DIR [DAYS]           tests/tools/mkpki-derp.sh: ca.pem (root), int.pem
#                                 (intermediate), derp.pem/.key (leaf for derp.test,
#                                 derp2.test, 127.0.0.1, ::1, valid DAYS days, default 1),
#                                 derp-chain.pem (leaf + intermediate: what a correctly
#                                 configured derper serves), self.pem/.key (self-signed)
#   pki_localhost DIR             tests/tools/mkpki.sh: ca.pem and server.pem/.key for
#                                 localhost and 127.0.0.1 (HTTPS map servers)
#   pki_cert_variants DIR AIA-URL tests/tools/mkcertpki.sh: one variant per certificate
#                                 failure mode for `derpcheck cert` (tls-diagnosis.md §7.4)
#   pki_ocsp DIR URL [CRL-URL]    tests/tools/mkpki-ocsp.sh: pki_derp's CAs, then leaves for
#                                 derp.test whose AIA names the OCSP responder URL: good,
#                                 revoked (keyCompromise) and stranger (unknown to the
#                                 responder), each with -chain.pem; DIR/index.txt is the
#                                 database of `openssl ocsp -index` (the intermediate signs);
#                                 with CRL-URL also crl-good and crl-revoked, which name only
#                                 that CRL distribution point, and DIR/int.crl to serve there
#   pki_expired_leaf PKIDIR OUT   OUT.crt (leaf for derp.test and derp2.test, expired on
#                                 2024-04-01, issued by PKIDIR's intermediate, followed
#                                 by it) and OUT.key, made with openssl ca -startdate/-enddate
#                                 (tls-diagnosis.md §7.2); PKIDIR from pki_derp
#   pki_leaf_only DIR CERTDIR [HOST]
#                                 derper's --certmode manual folder with the leaf ALONE
#                                 as HOST.crt (acme.sh --cert-file): the seed's mistake
#   pki_full_chain DIR CERTDIR [HOST]
#                                 the same with leaf + intermediate (--fullchain-file)

_pki_tools=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)

pki_derp() { DAYS=${2:-${DAYS:-1}} "$_pki_tools/mkpki-derp.sh" "$1"; }
pki_localhost() { "$_pki_tools/mkpki.sh" "$1"; }
pki_cert_variants() { "$_pki_tools/mkcertpki.sh" "$1" "$2"; }
pki_ocsp() { "$_pki_tools/mkpki-ocsp.sh" "$@"; }

_pki_certdir() {
	local crt=$1 key=$2 dir=$3 host=${4:-derp.test}
	mkdir -p "$dir"
	cp "$crt" "$dir/$host.crt"
	cp "$key" "$dir/$host.key"
	chmod 600 "$dir/$host.key"
}
pki_leaf_only() { _pki_certdir "$1/derp.pem" "$1/derp.key" "$2" "${3:-}"; }
pki_full_chain() { _pki_certdir "$1/derp-chain.pem" "$1/derp.key" "$2" "${3:-}"; }

pki_expired_leaf() {
	local pki=$1 out=$2 ca
	ca=$(mktemp -d "${work:-/tmp}/expired-ca.XXXXXX")
	mkdir -p "$ca/new"
	: >"$ca/index.txt"
	echo 1000 >"$ca/serial"
	printf '[ca]\ndefault_ca=t\n[t]\ndatabase=%s/index.txt\nnew_certs_dir=%s/new\nserial=%s/serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\ncopy_extensions=none\n[p]\ncommonName=supplied\n[leaf]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:derp.test,DNS:derp2.test,IP:127.0.0.1\n' \
		"$ca" "$ca" "$ca" >"$ca/ca.cnf"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=derp.test \
		-keyout "$out.key" -out "$ca/leaf.csr" 2>/dev/null &&
		openssl ca -batch -notext -config "$ca/ca.cnf" -cert "$pki/int.pem" -keyfile "$pki/int.key" \
			-extensions leaf -startdate 20240101000000Z -enddate 20240401000000Z -in "$ca/leaf.csr" \
			-out "$out.leaf" 2>/dev/null &&
		cat "$out.leaf" "$pki/int.pem" >"$out.crt"
}
