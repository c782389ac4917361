// A single-service repo in plain JavaScript: no TypeScript, no package.json.
export default {
  environments: "./environments",
  project: "my-service",
  // Bare image names get this prefix: "my-service" → 127.0.0.1:5000/kaupang-examples/my-service.
  dockerRepository: process.env.MY_SERVICE_REPOSITORY ?? "127.0.0.1:5000/kaupang-examples",
  targets: {
    local: {}, // your machine, docker compose
    prod: {
      backend: "swarm",
      // A remote swarm is one docker context away: PROD_DOCKER_CONTEXT=prod-swarm.
      ...(process.env.PROD_DOCKER_CONTEXT ? { dockerContext: process.env.PROD_DOCKER_CONTEXT } : {}),
      pull: "missing",
      // Host-mode ports and DNS round-robin work on swarms without IPVS too.
      swarm: { portMode: "host", endpointMode: "dnsrr" },
    },
  },
};
