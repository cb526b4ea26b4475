/** Every project's resources are served under /data/v3/{project}/{resource}. */
export const dataRoot = '/data/v3';
export const dataPrefix = `${dataRoot}/ed-fi`;
