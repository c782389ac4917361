/** Names kaupang gives things on the backends; one place so apply, status and down agree. */
export const composeProjectName = (project: string, environment: string) => `${project}-${environment}`;
/** A swarm stack is named like the compose project of the same environment. */
export const stackName = (project: string, environment: string) => composeProjectName(project, environment);
export const projectNetworkName = (project: string) => project;
export const kubeSecretName = (project: string) => `${project}-secrets`;
/** The Secret an environment's pods pull with: the deployer's registry logins (kubernetes.io/dockerconfigjson). */
export const registryAuthSecretName = (project: string, environment: string) =>
  `${composeProjectName(project, environment)}-registry-auth`;

/** Labels kaupang puts on every container/service/object it creates. */
export const labelKeys = {
  project: "dev.kaupang.project",
  environment: "dev.kaupang.environment",
  service: "dev.kaupang.service",
} as const;
