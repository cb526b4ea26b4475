/**
 * REDIS_URL's two forms: `redis://` / `rediss://` for one server (ioredis reads it), and
 * `redis-cluster://[user:password@]host:port,host:port,...` (`rediss-cluster://` for TLS) for a Redis Cluster, whose
 * seed nodes are any of its members: the client learns the rest of the cluster from them.
 */
const clusterSchemes = /^(rediss?)-cluster:\/\//;

/** Whether REDIS_URL names a cluster: `redis-cluster://[user:password@]host:port,host:port,...` (`rediss-cluster://` for TLS). */
export const namesCluster = (url: string) => clusterSchemes.test(url);

export class RedisUrlError extends Error {}

/** The seed nodes and credentials of a cluster URL; a malformed one throws with a message that says what to write. */
export function parseClusterUrl(url: string): { nodes: Array<{ host: string; port: number }>; username?: string; password?: string; tls: boolean } {
  const [, scheme] = clusterSchemes.exec(url) ?? [];
  if (!scheme) throw new RedisUrlError(`not a Redis Cluster URL: ${url.split(':')[0]}:`);
  const rest = url.slice(`${scheme}-cluster://`.length).replace(/\/.*$/, '');
  const at = rest.lastIndexOf('@');
  const [username, password] = at < 0 ? [] : rest.slice(0, at).split(':').map(decodeURIComponent);
  const nodes = (at < 0 ? rest : rest.slice(at + 1)).split(',').filter(Boolean).map((seed) => {
    const match = /^([^:]+|\[[^\]]+\]):(\d{1,5})$/.exec(seed);
    if (!match) throw new RedisUrlError(`REDIS_URL: "${seed}" is not host:port (write redis-cluster://host:7000,host:7001,host:7002)`);
    return { host: match[1].replace(/^\[|\]$/g, ''), port: Number(match[2]) };
  });
  if (!nodes.length) throw new RedisUrlError('REDIS_URL: a redis-cluster:// URL names at least one seed node (host:port)');
  return { nodes, username: username || undefined, password: password || undefined, tls: scheme === 'rediss' };
}

