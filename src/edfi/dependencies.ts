import type { ResourceDeclaration } from './resource-declaration.js';

export interface DependencyEntry {
  resource: string;
  order: number;
  operations: string[];
}

/**
 * The order in which resources can be loaded (the ODS/API's `/metadata/dependencies`): a resource
 * comes after everything it references, descriptors first. Computed from the model's references;
 * a reference cycle (none in the Data Standard) puts its members in the same group.
 */
export function loadOrder(resources: ResourceDeclaration[]): DependencyEntry[] {
  const byEndpoint = new Map(resources.map((r) => [r.name, r]));
  const needs = new Map(
    resources.map((r) => [
      r.name,
      new Set(r.references.flatMap((ref) => ref.candidates.map((c) => c.endpoint).concat(Object.values(ref.edorgEndpoints ?? {}))).filter((e) => e !== r.name && byEndpoint.has(e))),
    ]),
  );
  const order = new Map<string, number>();
  let level = 1;
  while (order.size < resources.length) {
    const ready = resources.filter((r) => !order.has(r.name) && [...needs.get(r.name)!].every((e) => order.has(e)));
    const group = ready.length ? ready : resources.filter((r) => !order.has(r.name));
    for (const r of group) order.set(r.name, level);
    level++;
  }
  return resources
    .map((r) => ({ resource: `/${r.project}/${r.name}`, order: order.get(r.name)!, operations: ['Create', 'Update'] }))
    .sort((a, b) => a.order - b.order || (a.resource < b.resource ? -1 : 1));
}
