// A TCP proxy that delays every chunk by DELAY ms each way: the local registry
// as if it were DELAY*2 ms of round trip away. Usage: latency-proxy.mjs LISTEN_PORT TARGET_PORT DELAY
import { connect, createServer } from "node:net";

const [listen, target, delay] = process.argv.slice(2).map(Number);
const later = (fn) => setTimeout(fn, delay);
createServer((client) => {
  const upstream = connect(target, "127.0.0.1");
  client.on("data", (chunk) => later(() => upstream.write(chunk)));
  upstream.on("data", (chunk) => later(() => client.write(chunk)));
  client.on("end", () => later(() => upstream.end()));
  upstream.on("end", () => later(() => client.end()));
  client.on("error", () => upstream.destroy());
  upstream.on("error", () => client.destroy());
}).listen(listen, "127.0.0.1", () =>
  console.error(`latency proxy :${listen} -> :${target} (+${delay} ms each way)`),
);
