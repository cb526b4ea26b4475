/**
 * Which parts of a Postman collection edgate can run. A collection is cut into units: a folder that holds requests
 * itself runs whole; other folders are cut into their sub-folders, each of which takes along the set-up and clean-up
 * folders beside it. A unit runs only when every Ed-Fi resource it and its set-up name (in URLs, scripts and bodies)
 * is one edgate serves.
 */

export interface PostmanItem {
  name: string;
  item?: PostmanItem[];
  request?: unknown;
  event?: unknown[];
  [key: string]: unknown;
}

export interface Unit {
  /** Folder names from the collection down, e.g. "Paging / Limit/Offset/Total Count / Student". */
  path: string;
  item: PostmanItem;
  /** Set-up and clean-up folders beside it (or beside a parent) that run with it. */
  support: PostmanItem[];
  requests: number;
  /** Resources (or API areas) the unit names that edgate does not serve; empty when it runs. */
  missing: string[];
}

const isFolder = (item: PostmanItem) => Array.isArray(item.item);
const setupOrCleanUp = /^(initial |test suite )?(setup|teardown|clean ?up)\b/i;

function countRequests(item: PostmanItem): number {
  return isFolder(item) ? item.item!.reduce((n, child) => n + countRequests(child), 0) : 1;
}

interface Part {
  path: string[];
  item: PostmanItem;
  /** Set-up and clean-up folders beside it, which it needs and which run with it. */
  support: PostmanItem[];
}

function splitIntoParts(item: PostmanItem, path: string[], support: PostmanItem[]): Part[] {
  const children = item.item ?? [];
  if (!isFolder(item) || !children.length || children.some((child) => !isFolder(child))) return [{ path, item, support }];
  const shared = children.filter((child) => setupOrCleanUp.test(child.name.trim()));
  const rest = children.filter((child) => !shared.includes(child));
  if (!rest.length) return [{ path, item, support }];
  return rest.flatMap((child) => splitIntoParts(child, [...path, child.name], [...support, ...shared]));
}

/**
 * Resource names a unit's text mentions, after substituting the environment's values for the names the suites build
 * at run time (`{{ParentOrContactCollectionName}}`, `"/data/v3/ed-fi/" + pm.environment.get("…")`). A name that stays
 * dynamic is reported as unresolved, so the unit does not run rather than run blind.
 */
export function namedResources(text: string, environment: Record<string, string>): string[] {
  const substituted = text
    .replace(/\{\{(\w+)\}\}/g, (whole, name: string) => environment[name] ?? whole)
    .replace(/(\/data\/v3\/[\w-]+\/)\\?["'`]\s*\+\s*pm\.environment\.get\(\s*\\?["'](\w+)\\?["']\s*\)/g, (whole, prefix: string, name: string) =>
      environment[name] !== undefined ? prefix + environment[name] : prefix + '(unresolved ' + name + ')',
    )
    .replace(/(\/data\/v3\/[\w-]+\/)\$\{([^}]*)\}/g, (_whole, prefix: string, expr: string) => prefix + '(unresolved ' + expr + ')');
  const found = new Set<string>();
  for (const m of substituted.matchAll(/\/data\/v3\/([\w-]+)\/(\(unresolved [^)]*\)|[A-Za-z][\w{}]*)/g)) found.add(`${m[1]}/${m[2]}`);
  for (const m of substituted.matchAll(/\/(composites|changeQueries)\/v\d/gi)) found.add(m[1].toLowerCase() === 'composites' ? 'composites' : 'changeQueries');
  return [...found];
}

/** `served` holds "project/resource" names, lower-cased: the API's own routes match case-insensitively too. */
export function unitsOf(collection: { item: PostmanItem[] }, served: Set<string>, environment: Record<string, string>): Unit[] {
  return collection.item.flatMap((top) =>
    splitIntoParts(top, [top.name], []).map(({ path, item, support }) => {
      const missing = namedResources(JSON.stringify([item, ...support]), environment).filter((name) => !served.has(name.toLowerCase()));
      return { path: path.join(' / '), item, support, requests: countRequests(item), missing };
    }),
  );
}

/** The collection with only the given units' items: folders keep their own scripts, empty ones are dropped. */
export function pruneTo<C extends { item: PostmanItem[] }>(collection: C, keep: Set<PostmanItem>): C {
  const prune = (items: PostmanItem[]): PostmanItem[] =>
    items.flatMap((item) => {
      if (keep.has(item)) return [item];
      if (!isFolder(item)) return [];
      const children = prune(item.item!);
      return children.length ? [{ ...item, item: children }] : [];
    });
  return { ...collection, item: prune(collection.item) };
}
