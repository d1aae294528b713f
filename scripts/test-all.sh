#!/usr/bin/env bash
# The README's test command, and what CI runs: installs what the tests need (the Debian packages of the real
# test servers where missing, then the npm packages) and runs typecheck, the format check (Biome), lint (Biome,
# then scripts/lint.mjs) and the whole test suite on the installed Node.js 20, then the whole suite again on
# Node.js 24 LTS (scripts/test-node24.sh): package.json "engines" names exactly these two.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/sbin/apache2 ] || missing+=(apache2)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl ca-certificates)
# Windows authentication test servers: Samba (NTLM), an MIT KDC and Apache mod_auth_gssapi (Kerberos);
# libkrb5-dev lets npm build the agent's optional `kerberos` addon.
[ -x /usr/sbin/winbindd ] || missing+=(samba winbind)
[ -x /usr/sbin/krb5kdc ] || missing+=(krb5-kdc krb5-admin-server)
command -v kinit >/dev/null 2>&1 || missing+=(krb5-user)
[ -f /usr/include/krb5.h ] || [ -f /usr/include/krb5/krb5.h ] || missing+=(libkrb5-dev)
[ -f /usr/lib/apache2/modules/mod_auth_gssapi.so ] || missing+=(libapache2-mod-auth-gssapi)
# Scale-out suites: real Redis and PostgreSQL servers.
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15 postgresql-client-15)
# The benchmark's load generator (test/suites/bench.test.ts runs a short bench).
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# The web console's browser tests (test/suites/console.test.ts): Debian's Chromium, driven by playwright-core.
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-all: installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

node -e 'const [maj, min] = process.versions.node.split(".").map(Number); if (maj < 20 || (maj === 20 && min < 19)) { console.error("Node.js 20.19+ or 24 is required, found " + process.version); process.exit(1); } if (maj !== 20 && maj !== 24) console.error("test-all: Node.js " + process.version + " is not one of the tested versions (20, 24)");'
npm ci --no-audit --no-fund
npm run typecheck
npm run format:check
npm run lint
echo "test-all: the suite on Node.js $(node --version)"
npm test
bash scripts/test-node24.sh
