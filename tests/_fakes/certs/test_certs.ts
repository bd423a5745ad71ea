/**
 * TLS material for the fake API server: a test CA, a server certificate for 127.0.0.1/::1/localhost and
 * a client certificate. Generated with `openssl` at test time when it is installed; otherwise the PEM
 * files committed in this directory (valid until 2126) are used.
 *
 * @module
 */

/** PEM material for a test CA, a server certificate for 127.0.0.1/::1/localhost and a client certificate. */
export interface TestCerts {
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  clientCertPem: string;
  clientKeyPem: string;
}

let certsPromise: Promise<TestCerts> | null = null;

/**
 * Test TLS material: generated with `openssl` when it is installed (once per process), otherwise the
 * fixed certificates committed next to this file.
 */
export function testCerts(): Promise<TestCerts> {
  certsPromise ??= generateCerts().catch(() => committedTestCerts());
  return certsPromise;
}

/** The fixed certificates committed next to this file (the fallback when openssl is missing). */
export async function committedTestCerts(): Promise<TestCerts> {
  const dir = new URL("./", import.meta.url);
  const read = (name: string): Promise<string> => Deno.readTextFile(new URL(name, dir));
  return {
    caPem: await read("ca.pem"),
    serverCertPem: await read("server.pem"),
    serverKeyPem: await read("server-key.pem"),
    clientCertPem: await read("client.pem"),
    clientKeyPem: await read("client-key.pem"),
  };
}

// One CA, a server certificate for the loopback names and a client certificate, valid for two days.
const OPENSSL_STEPS = [
  "req -x509 EC -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=containerstdout-test-ca " +
  "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
  "req EC -keyout server-key.pem -out server.csr -subj /CN=localhost",
  "x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -set_serial 2 -out server.pem -days 2 -extfile server.ext",
  "req EC -keyout client-key.pem -out client.csr -subj /CN=test-client",
  "x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -set_serial 3 -out client.pem -days 2 -extfile client.ext",
];
const EXTENSIONS: Record<string, string> = {
  "server.ext": "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nbasicConstraints=CA:FALSE\n" +
    "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
  "client.ext":
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
};

async function generateCerts(): Promise<TestCerts> {
  const dir = await Deno.makeTempDir({ prefix: "fake_apiserver_certs_" });
  try {
    for (const [name, text] of Object.entries(EXTENSIONS)) await Deno.writeTextFile(`${dir}/${name}`, text);
    for (const step of OPENSSL_STEPS) {
      await openssl(
        dir,
        step.replace("EC", "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes").split(" "),
      );
    }
    const read = (name: string): Promise<string> => Deno.readTextFile(`${dir}/${name}`);
    return {
      caPem: await read("ca.pem"),
      serverCertPem: await read("server.pem"),
      serverKeyPem: await read("server-key.pem"),
      clientCertPem: await read("client.pem"),
      clientKeyPem: await read("client-key.pem"),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`Cannot run openssl: ${new TextDecoder().decode(out.stderr).trim()}`);
}
