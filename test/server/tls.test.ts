import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { CustomerService } from "../../gen/ts/billing/v1/customer_service_pb.js";
import { authInterceptors } from "../../clients/typescript/src/auth-interceptor.js";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { scratchDirectory } from "../support/tally-process.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl command. */
function makeCertificates(dir: string) {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Tally Test CA", "-keyout", "ca.key", "-out", "ca.crt");
  writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr");
  openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.crt");
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=billing-client", "-keyout", "client.key", "-out", "client.csr");
  openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-out", "client.crt");
  const file = (name: string) => join(dir, name);
  return { ca: file("ca.crt"), serverCert: file("server.crt"), serverKey: file("server.key"), clientCert: file("client.crt"), clientKey: file("client.key") };
}

const interceptors = authInterceptors(TEST_ADMIN_KEY);

describe("TLS", () => {
  const scratch = scratchDirectory("tally-tls-");
  const files = makeCertificates(scratch.path);
  const ca = readFileSync(files.ca);
  after(() => scratch.cleanup());

  describe("with a server certificate", () => {
    let tally: TestTally;
    before(async () => {
      tally = await startTestTally({ tlsCert: files.serverCert, tlsKey: files.serverKey });
    });
    after(() => tally.stop());

    it("serves gRPC and Connect over HTTP/2 (ALPN h2) and Connect and gRPC-Web over HTTP/1.1 on the one port", async () => {
      assert.match(tally.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const transports = [
        createGrpcTransport({ baseUrl: tally.url, nodeOptions: { ca }, interceptors }),
        createConnectTransport({ baseUrl: tally.url, httpVersion: "2", nodeOptions: { ca }, interceptors }),
        createConnectTransport({ baseUrl: tally.url, httpVersion: "1.1", nodeOptions: { ca }, interceptors }),
        createGrpcWebTransport({ baseUrl: tally.url, httpVersion: "1.1", nodeOptions: { ca }, interceptors }),
      ];
      for (const [index, transport] of transports.entries()) {
        const customers = createClient(CustomerService, transport);
        const { customer } = await customers.createCustomer({
          requestId: `tls-${index}`,
          customer: { externalId: `tls-${index}`, displayName: "TLS", currencyCode: "USD" },
        });
        assert.equal((await customers.getCustomer({ id: `tls-${index}` })).customer?.id, customer!.id);
      }
    });

    it("refuses a client that does not trust the certificate, and a cleartext client, and keeps serving", async () => {
      const untrusting = createClient(CustomerService, createConnectTransport({ baseUrl: tally.url, httpVersion: "1.1", interceptors }));
      await assert.rejects(untrusting.listCustomers({}), (error) => ConnectError.from(error).code !== Code.Unauthenticated);
      const cleartext = createClient(CustomerService, createGrpcTransport({ baseUrl: tally.url.replace("https:", "http:"), interceptors }));
      await assert.rejects(cleartext.listCustomers({}));
      const trusting = createClient(CustomerService, createGrpcTransport({ baseUrl: tally.url, nodeOptions: { ca }, interceptors }));
      await trusting.listCustomers({});
    });
  });

  describe("with --tls-client-ca", () => {
    let tally: TestTally;
    before(async () => {
      tally = await startTestTally({ tlsCert: files.serverCert, tlsKey: files.serverKey, tlsClientCa: files.ca });
    });
    after(() => tally.stop());

    it("serves only clients whose certificate the CA signed", async () => {
      const withCertificate = { ca, cert: readFileSync(files.clientCert), key: readFileSync(files.clientKey) };
      for (const transport of [
        createGrpcTransport({ baseUrl: tally.url, nodeOptions: withCertificate, interceptors }),
        createConnectTransport({ baseUrl: tally.url, httpVersion: "1.1", nodeOptions: withCertificate, interceptors }),
      ]) {
        await createClient(CustomerService, transport).listCustomers({});
      }
      for (const transport of [
        createGrpcTransport({ baseUrl: tally.url, nodeOptions: { ca }, interceptors }),
        createConnectTransport({ baseUrl: tally.url, httpVersion: "1.1", nodeOptions: { ca }, interceptors }),
      ]) {
        await assert.rejects(createClient(CustomerService, transport).listCustomers({}));
      }
    });
  });
});
