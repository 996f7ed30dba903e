#!/bin/sh
# A throw-away test PKI for `derpcheck cert` (tls-diagnosis.md §7.2, §7.4): a root, an
# intermediate and a leaf for derp.test (IP SAN 127.0.0.1), and one variant per failure
# mode. caIssuers (AIA) URLs point at AIA_BASE, a loopback HTTP server that serves
# DIR/aia/ (the DER files written there). Nothing here is ever trusted by the system.
#   tests/tools/mkcertpki.sh DIR http://127.0.0.1:PORT
set -eu
dir=$1
aia=$2
mkdir -p "$dir/aia" "$dir/ca-newcerts"
cd "$dir"

cat >ext.cnf <<CNF
[v3_root]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
[v3_int]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
authorityInfoAccess=caIssuers;URI:$aia/root.der
[v3_sub]
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
authorityInfoAccess=caIssuers;URI:$aia/int.der
[v3_leaf]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
subjectAltName=DNS:derp.test,IP:127.0.0.1
authorityInfoAccess=caIssuers;URI:$aia/int.der
[v3_leafsub]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
authorityKeyIdentifier=keyid:always
subjectAltName=DNS:derp.test,IP:127.0.0.1
authorityInfoAccess=caIssuers;URI:$aia/sub.der
[v3_leafbad]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
authorityKeyIdentifier=keyid:always
subjectAltName=DNS:derp.test,IP:127.0.0.1
authorityInfoAccess=caIssuers;URI:$aia/missing.der
[v3_other]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
authorityKeyIdentifier=keyid:always
subjectAltName=DNS:other.example
[v3_wild]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
authorityKeyIdentifier=keyid:always
subjectAltName=DNS:*.derp.test
[v3_cnonly]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
authorityKeyIdentifier=keyid:always
[v3_noip]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
authorityKeyIdentifier=keyid:always
subjectAltName=DNS:derp.test
[v3_client]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
authorityKeyIdentifier=keyid:always
subjectAltName=DNS:derp.test,IP:127.0.0.1
[v3_rsa]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
authorityKeyIdentifier=keyid:always
subjectAltName=DNS:derp.test,IP:127.0.0.1
[v3_ss]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:derp.test,IP:127.0.0.1
CNF
cat >ca.cnf <<'CNF'
[ca]
default_ca=testca
[testca]
database=./ca-index.txt
new_certs_dir=./ca-newcerts
serial=./ca-serial
default_md=sha256
policy=pol_any
unique_subject=no
copy_extensions=none
[pol_any]
commonName=supplied
CNF
: >ca-index.txt
echo 1000 >ca-serial

q() { "$@" >/dev/null 2>&1; }
ec() { q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
serial=12288
# issue NAME KEY SUBJECT SECTION [CA CAKEY] [extra x509 flags]: a certificate signed by CA (default int).
issue() {
	name=$1 key=$2 subj=$3 sect=$4 ca=${5:-int.pem} cakey=${6:-int.key}
	shift 4; [ $# -ge 2 ] && shift 2 || shift $#
	serial=$((serial + 1))
	q openssl req -new -key "$key" -subj "$subj" -out "$name.csr"
	q openssl x509 -req -in "$name.csr" -CA "$ca" -CAkey "$cakey" -set_serial "$serial" -days 90 -sha256 \
		-extfile ext.cnf -extensions "$sect" -out "$name.pem" "$@"
}

for k in root int sub leaf other root2 int2; do ec $k.key; done
q openssl req -x509 -new -key root.key -subj "/O=derpcheck test/CN=Derpcheck Test Root CA" -days 3650 -sha256 \
	-config ext.cnf -extensions v3_root -out root.pem
issue int int.key "/O=derpcheck test/CN=Derpcheck Test Intermediate" v3_int root.pem root.key -days 1825
issue leaf leaf.key "/CN=derp.test" v3_leaf
cat leaf.pem int.pem >fullchain.pem
cp int.pem chain.pem

# A second level below the intermediate: leafsub <- sub <- int <- root (two AIA hops).
issue sub sub.key "/O=derpcheck test/CN=Derpcheck Test Sub CA" v3_sub
issue leafsub leaf.key "/CN=derp.test" v3_leafsub sub.pem sub.key
issue leafbad leaf.key "/CN=derp.test" v3_leafbad
# A second, unrelated hierarchy: its intermediate sent after our leaf is the wrong one.
q openssl req -x509 -new -key root2.key -subj "/O=elsewhere/CN=Other Root" -days 3650 -sha256 \
	-config ext.cnf -extensions v3_root -out root2.pem
issue int2 int2.key "/O=elsewhere/CN=Other Intermediate" v3_int root2.pem root2.key
cat int.pem root.pem >withroot.pem
cat root.pem int.pem >revchain.pem

# Names, usage, strength.
issue other other.key "/CN=other.example" v3_other
issue wild leaf.key "/CN=*.derp.test" v3_wild
issue cnonly leaf.key "/CN=derp.test" v3_cnonly
issue noip leaf.key "/CN=derp.test" v3_noip
issue client leaf.key "/CN=derp.test" v3_client
issue sha1 leaf.key "/CN=derp.test" v3_leaf int.pem int.key -sha1
q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.key
issue rsa1024 rsa1024.key "/CN=derp.test" v3_rsa
issue soon leaf.key "/CN=derp.test" v3_leaf int.pem int.key -days 5
issue renewed leaf.key "/CN=derp.test" v3_leaf int.pem int.key -days 120
q openssl req -x509 -new -key leaf.key -subj "/CN=derp.test" -days 90 -sha256 -config ext.cnf -extensions v3_ss -out selfsigned.pem

# Validity in the past and the future (openssl ca: -not_before/-not_after are 3.4+).
q openssl ca -batch -notext -config ca.cnf -cert int.pem -keyfile int.key -extfile ext.cnf -extensions v3_leaf \
	-startdate 20240101000000Z -enddate 20240401000000Z -in leaf.csr -out expired.pem
q openssl ca -batch -notext -config ca.cnf -cert int.pem -keyfile int.key -extfile ext.cnf -extensions v3_leaf \
	-startdate 20300101000000Z -enddate 20300401000000Z -in leaf.csr -out notyet.pem
q openssl ca -batch -notext -config ca.cnf -cert root.pem -keyfile root.key -extfile ext.cnf -extensions v3_int \
	-startdate 20230101000000Z -enddate 20240101000000Z -subj "/O=derpcheck test/CN=Derpcheck Test Intermediate" \
	-preserveDN -in int.csr -out int-expired.pem

# What the AIA server hands out, and a page that looks like derper's home page.
openssl x509 -in int.pem -outform DER -out aia/int.der
openssl x509 -in root.pem -outform DER -out aia/root.der
openssl x509 -in sub.pem -outform DER -out aia/sub.der
printf '<html><body><h1>DERP</h1><p>This is a Tailscale DERP server.</p></body></html>\n' >aia/index.html
