/**
 * Just enough JSON Schema reading to check profile members against a resource's body schema:
 * an object's members (following local $refs and allOf), its required members and array items.
 */
type Schema = Record<string, unknown>;

export type MemberKind = 'object' | 'collection' | 'value';

export class SchemaView {
  constructor(private readonly root: Schema) {}

  /** Follows local references ("#/$defs/Name") so nested members can be looked up. */
  resolve(schema: unknown, depth = 0): Schema {
    const s = (schema && typeof schema === 'object' ? schema : {}) as Schema;
    const ref = s.$ref;
    if (typeof ref !== 'string' || depth > 32) return s;
    if (!ref.startsWith('#/')) throw new Error(`profiles: only local $refs are understood, got ${ref}`);
    let target: unknown = this.root;
    for (const part of ref.slice(2).split('/')) target = (target as Schema | undefined)?.[decodeURIComponent(part.replace(/~1/g, '/').replace(/~0/g, '~'))];
    return this.resolve({ ...(target as Schema), ...withoutRef(s) }, depth + 1);
  }

  members(schema: unknown): Map<string, Schema> {
    const s = this.resolve(schema);
    const found = new Map<string, Schema>();
    for (const part of [s, ...((s.allOf as unknown[] | undefined) ?? []).map((p) => this.resolve(p))]) {
      for (const [name, member] of Object.entries((part.properties as Record<string, Schema> | undefined) ?? {})) found.set(name, member);
    }
    return found;
  }

  required(schema: unknown): string[] {
    const s = this.resolve(schema);
    const parts = [s, ...((s.allOf as unknown[] | undefined) ?? []).map((p) => this.resolve(p))];
    return [...new Set(parts.flatMap((p) => (p.required as string[] | undefined) ?? []))];
  }

  kindOf(schema: unknown): MemberKind {
    const s = this.resolve(schema);
    const types = ([] as unknown[]).concat(s.type ?? []);
    if (types.includes('array') || s.items !== undefined) return 'collection';
    if (types.includes('object') || s.properties !== undefined) return 'object';
    return 'value';
  }

  itemsOf(schema: unknown): Schema {
    return this.resolve(this.resolve(schema).items);
  }
}

function withoutRef(s: Schema): Schema {
  const { $ref: _ignored, ...rest } = s;
  return rest;
}
