/** What other layers (profiles, OpenAPI) need to know of a declared resource. */
export interface ResourceMeta {
  /** URL segment of the project, e.g. 'ed-fi' (absent: ed-fi). */
  project?: string;
  /** URL segment, e.g. 'students'. */
  name: string;
  /** Ed-Fi resource name, PascalCase singular, e.g. 'Student' (profile XML `Resource name`). */
  edfiName: string;
  /** Lower-camel singular used in media types, e.g. 'student' in application/vnd.ed-fi.student.…+json. */
  mediaName: string;
  /** JSON Schema (2020-12) of the body, without id/_etag/_lastModifiedDate. */
  schema: Record<string, unknown>;
  /** Top-level members that make up the natural key; profiles always keep them. */
  identity: string[];
  /** A subclass's abstract superclass (School: EducationOrganization), whose members it inherits. */
  superclass?: { resourceName: string };
}
