/**
 * Routes on Kubernetes: one networking.k8s.io/v1 Ingress per routed service
 * (host + path rules to the service's ClusterIP Service, TLS from a Secret),
 * and what makes its Deployment roll without dropping requests: a surge pod
 * that must be ready before an old one goes (maxUnavailable 0), and a
 * readiness probe — the healthcheck, else a TCP check of the routed port.
 */
import type { Model, Service } from "../config/model.js";
import { proxyOf } from "./routes.js";

/** The Secret a route's certificate is read from. */
const tlsSecretOf = (service: Service, route: { tlsSecret?: string }): string =>
  route.tlsSecret ?? `${service.name}-tls`;

export function ingressOf(
  model: Model,
  service: Service,
  labels: Record<string, string>,
): Record<string, unknown> | undefined {
  const routes = service.routes ?? [];
  if (routes.length === 0) return undefined;
  const ingressClassName = proxyOf(model.target).ingressClassName;
  const hosts = [...new Set(routes.map((r) => r.host))];
  const rules = hosts.map((host) => ({
    host,
    http: {
      paths: routes
        .filter((r) => r.host === host)
        .map((r) => ({
          path: r.path,
          pathType: "Prefix",
          backend: { service: { name: service.name, port: { number: r.port } } },
        })),
    },
  }));
  const secured = routes.filter((r) => r.tls !== "off");
  const secrets = [...new Set(secured.map((r) => tlsSecretOf(service, r)))];
  const tls = secrets.map((secretName) => ({
    hosts: [...new Set(secured.filter((r) => tlsSecretOf(service, r) === secretName).map((r) => r.host))],
    secretName,
  }));
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name: service.name, namespace: model.target.namespace, labels },
    spec: {
      ...(ingressClassName ? { ingressClassName } : {}),
      ...(tls.length > 0 ? { tls } : {}),
      rules,
    },
  };
}

/** A routed Deployment's strategy: one extra pod at a time, none taken away before its successor is ready. */
export const routedStrategy = {
  type: "RollingUpdate",
  rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
} as const;

/** Without a healthcheck, a routed container is ready once its first routed port accepts connections. */
export function tcpReadiness(service: Service): Record<string, unknown> | undefined {
  const port = service.routes?.[0]?.port;
  return port === undefined ? undefined : { tcpSocket: { port }, periodSeconds: 1, failureThreshold: 3 };
}
