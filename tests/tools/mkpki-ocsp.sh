#!/bin/sh
# A throw-away PKI whose leaves name an OCSP responder, for the revocation tests, in DIR:
# mkpki-derp.sh's root and intermediate, then, issued by the intermediate with `openssl
# ca` (so its index.txt is the responder's database) and carrying AIA OCSP;URI:URL:
#   good.pem/.key, good-chain.pem        leaf for derp.test, 127.0.0.1: not revoked
#   revoked.pem/.key, revoked-chain.pem  the same names, revoked (keyCompromise)
#   stranger.pem/.key, stranger-chain.pem the same names and responder, issued outside `openssl
#                                        ca`: the responder does not know it (status unknown)
#   index.txt                            for `openssl ocsp -index DIR/index.txt -CA DIR/int.pem
#                                        -rsigner DIR/int.pem -rkey DIR/int.key`
# With CRL-URL as well, leaves that name only that CRL distribution point (no OCSP URL):
#   crl-good.pem/.key, crl-good-chain.pem, crl-revoked.pem/.key, crl-revoked-chain.pem
#                                        (revoked, keyCompromise), and int.crl: the
#                                        intermediate's CRL (DER) to serve at CRL-URL
# Leaves are valid DAYS days (default 90), so no expiry warning gets in the way.
#   tests/tools/mkpki-ocsp.sh DIR URL [CRL-URL]
set -eu
dir=$1
url=$2
crl_url=${3:-}
days=${DAYS:-90}
DAYS=$days "$(dirname "$0")/mkpki-derp.sh" "$dir"
cd "$dir"
quiet() { "$@" 2>/dev/null; }
mkdir -p issued
: >index.txt
echo 2000 >serial
cat >ocsp-ca.cnf <<CNF
[ca]
default_ca=t
[t]
database=index.txt
new_certs_dir=issued
serial=serial
default_md=sha256
default_days=$days
policy=p
unique_subject=no
copy_extensions=none
[p]
commonName=supplied
[leaf]
basicConstraints=CA:FALSE
extendedKeyUsage=serverAuth
subjectAltName=DNS:derp.test,DNS:derp2.test,IP:127.0.0.1
authorityInfoAccess=OCSP;URI:$url
[crlleaf]
basicConstraints=CA:FALSE
extendedKeyUsage=serverAuth
subjectAltName=DNS:derp.test,DNS:derp2.test,IP:127.0.0.1
crlDistributionPoints=URI:${crl_url:-http://127.0.0.1/none.crl}
CNF
for name in good revoked; do
	quiet openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=derp.test \
		-keyout "$name.key" -out "$name.csr"
	quiet openssl ca -batch -notext -config ocsp-ca.cnf -cert int.pem -keyfile int.key -extensions leaf \
		-in "$name.csr" -out "$name.pem"
	cat "$name.pem" int.pem >"$name-chain.pem"
	rm -f "$name.csr"
done
quiet openssl ca -config ocsp-ca.cnf -cert int.pem -keyfile int.key -revoke revoked.pem -crl_reason keyCompromise
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:derp.test,DNS:derp2.test,IP:127.0.0.1\nauthorityInfoAccess=OCSP;URI:%s\n' "$url" >stranger.ext
quiet openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=derp.test \
	-keyout stranger.key -out stranger.csr
quiet openssl x509 -req -in stranger.csr -CA int.pem -CAkey int.key -set_serial 7777 -days "$days" \
	-extfile stranger.ext -out stranger.pem
cat stranger.pem int.pem >stranger-chain.pem
rm -f stranger.csr stranger.ext
if [ -n "$crl_url" ]; then
	for name in crl-good crl-revoked; do
		quiet openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=derp.test \
			-keyout "$name.key" -out "$name.csr"
		quiet openssl ca -batch -notext -config ocsp-ca.cnf -cert int.pem -keyfile int.key -extensions crlleaf \
			-in "$name.csr" -out "$name.pem"
		cat "$name.pem" int.pem >"$name-chain.pem"
		rm -f "$name.csr"
	done
	quiet openssl ca -config ocsp-ca.cnf -cert int.pem -keyfile int.key -revoke crl-revoked.pem -crl_reason keyCompromise
	quiet openssl ca -gencrl -config ocsp-ca.cnf -cert int.pem -keyfile int.key -crldays 7 -out int-crl.pem
	openssl crl -in int-crl.pem -outform DER -out int.crl
fi
