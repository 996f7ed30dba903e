#!/bin/sh
# A throw-away PKI for the DERP tests, in DIR (keys never leave it):
#   ca.pem            root CA "derpcheck test root CA"
#   int.pem           intermediate CA, signed by the root
#   derp.pem/.key     leaf for derp.test (+ derp2.test, 127.0.0.1, ::1), signed by the intermediate
#   derp-chain.pem    leaf + intermediate: what a correctly configured derper serves
#   self.pem/.key     self-signed leaf for derp.test (for sha256-raw: pins)
#   tests/tools/mkpki-derp.sh DIR
set -eu
dir=$1
# DAYS: the leaf's validity (default 1); the CAs get one more day.
leaf_days=${DAYS:-1}
ca_days=$((leaf_days + 1))
mkdir -p "$dir"
cd "$dir"
quiet() { "$@" 2>/dev/null; }
quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$ca_days" \
	-subj "/CN=derpcheck test root CA" -keyout ca.key -out ca.pem \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
quiet openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj "/CN=derpcheck test intermediate CA" -keyout int.key -out int.csr
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >int.ext
quiet openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days "$ca_days" -extfile int.ext -out int.pem
quiet openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj "/CN=derp.test" -keyout derp.key -out derp.csr
printf 'subjectAltName=DNS:derp.test,DNS:derp2.test,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >derp.ext
quiet openssl x509 -req -in derp.csr -CA int.pem -CAkey int.key -CAcreateserial -days "$leaf_days" -extfile derp.ext -out derp.pem
cat derp.pem int.pem >derp-chain.pem
quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$leaf_days" \
	-subj "/CN=derp.test" -keyout self.key -out self.pem \
	-addext "subjectAltName=DNS:derp.test,IP:127.0.0.1" -addext "extendedKeyUsage=serverAuth"
rm -f int.csr derp.csr int.ext derp.ext
