// A real Kerberos realm on loopback: an MIT KDC with a user principal and HTTP/localhost, and Apache with
// mod_auth_gssapi (keytab) in front of a service that reports what it received. Call it as http://localhost:PORT
// so the service principal is HTTP/localhost. Needs the Debian packages krb5-kdc, krb5-admin-server,
// krb5-user and libapache2-mod-auth-gssapi (scripts/test-all.sh installs them).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startApache, APACHE_BIN } from './apache.js';
import { tempDir } from './tmp.js';

export const REALM = 'GATEHOUSE.TEST';
export const KRB_USERS = { carol: 'Kerb3ros-pw!', dave: 'Dave-pw-42' } as const;

export interface KerberosRealm {
  krb5Conf: string;
  kdcPort: number;
  stop(): void;
}
export interface NegotiateApache {
  url: string;
  port: number;
  stop(): void;
}

export function kerberosAvailable(): boolean {
  return (
    ['/usr/sbin/krb5kdc', '/usr/sbin/kdb5_util', '/usr/bin/kinit', '/usr/lib/apache2/modules/mod_auth_gssapi.so'].every((p) => existsSync(p)) &&
    APACHE_BIN !== undefined
  );
}

export async function startKerberosRealm(): Promise<KerberosRealm & { keytab: string }> {
  const dir = tempDir('gatehouse-krb5-');
  chmodSync(dir, 0o755);
  const kdcPort = await freePort();
  const krb5Conf = join(dir, 'krb5.conf');
  writeFileSync(
    krb5Conf,
    `[libdefaults]
  default_realm = ${REALM}
  dns_lookup_realm = false
  dns_lookup_kdc = false
  dns_canonicalize_hostname = false
  rdns = false
  udp_preference_limit = 1
[realms]
  ${REALM} = {
    kdc = 127.0.0.1:${kdcPort}
  }
[domain_realm]
  localhost = ${REALM}
`,
  );
  writeFileSync(
    join(dir, 'kdc.conf'),
    `[kdcdefaults]
  kdc_listen = 127.0.0.1:${kdcPort}
  kdc_tcp_listen = 127.0.0.1:${kdcPort}
[realms]
  ${REALM} = {
    database_name = ${dir}/principal
    key_stash_file = ${dir}/stash
    acl_file = ${dir}/kadm5.acl
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
  }
[logging]
  kdc = FILE:${dir}/kdc.log
`,
  );
  writeFileSync(join(dir, 'kadm5.acl'), '');
  const env = { ...process.env, KRB5_CONFIG: krb5Conf, KRB5_KDC_PROFILE: join(dir, 'kdc.conf') };
  execFileSync('kdb5_util', ['create', '-s', '-r', REALM, '-P', 'master-pw-for-tests'], { env, stdio: 'pipe' });
  for (const [user, pw] of Object.entries(KRB_USERS)) execFileSync('kadmin.local', ['-q', `addprinc -pw ${pw} ${user}`], { env, stdio: 'pipe' });
  execFileSync('kadmin.local', ['-q', 'addprinc -randkey HTTP/localhost'], { env, stdio: 'pipe' });
  const keytab = join(dir, 'http.keytab');
  execFileSync('kadmin.local', ['-q', `ktadd -k ${keytab} HTTP/localhost`], { env, stdio: 'pipe' });
  try {
    execFileSync('chgrp', ['www-data', keytab]);
  } catch {
    /* not root: Apache runs as us */
  }
  chmodSync(keytab, 0o640);
  const kdc: ChildProcess = spawn('krb5kdc', ['-n'], { env, stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (readFileSyncSafe(join(dir, 'kdc.log')).includes('commencing operation')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    krb5Conf,
    kdcPort,
    keytab,
    stop: () => {
      kdc.kill();
    },
  };
}

function readFileSyncSafe(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** Apache: /negotiate (Kerberos via SPNEGO, keytab) proxied to `backendUrl`, passing the user on in X-Remote-User.
 *  /sink is the same without the header, proxied to `sinkUrl`: a service that reads a whole upload before it
 *  answers (an echo deadlocks Apache's proxy on a large one: it sends the whole body before reading the answer).
 *  /bound is the same with the authentication kept on the TCP connection (GssapiConnectionBound), as IIS keeps
 *  Kerberos and NTLM authentication by default: later requests on that connection need no Authorization. */
export async function startNegotiateApache(realm: KerberosRealm & { keytab: string }, backendUrl: string, sinkUrl = backendUrl): Promise<NegotiateApache> {
  const a = await startApache({
    serverName: 'localhost',
    modules: ['auth_gssapi', 'proxy', 'proxy_http'],
    env: { KRB5_CONFIG: realm.krb5Conf },
    body: () => `<Location /negotiate>
  AuthType GSSAPI
  AuthName "Kerberos test"
  GssapiAllowedMech krb5
  GssapiCredStore keytab:${realm.keytab}
  GssapiLocalName Off
  GssapiPublishMech On
  Require valid-user
  RequestHeader set X-Remote-User "expr=%{REMOTE_USER}"
  Header always set X-Remote-User "expr=%{REMOTE_USER}"
  ProxyPass ${backendUrl}/negotiate
</Location>
<Location /bound>
  AuthType GSSAPI
  AuthName "Kerberos test, connection-bound"
  GssapiAllowedMech krb5
  GssapiCredStore keytab:${realm.keytab}
  GssapiConnectionBound On
  Require valid-user
  Header always set X-Remote-User "expr=%{REMOTE_USER}"
  ProxyPass ${backendUrl}/bound
</Location>
<Location /sink>
  AuthType GSSAPI
  AuthName "Kerberos test, uploads"
  GssapiAllowedMech krb5
  GssapiCredStore keytab:${realm.keytab}
  GssapiLocalName Off
  Require valid-user
  ProxyPass ${sinkUrl}/sink
</Location>`,
  });
  return { url: `http://localhost:${a.port}`, port: a.port, stop: a.stop };
}
