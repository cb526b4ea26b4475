/** The Ed-Fi resource API's entry points for other layers (app assembly, profiles, gateway costs). */
export { edfiRoutes, edfiRouteCosts, dataPrefix } from './routes.js';
export { openApiRoutes, openApiDocument, type ProfileMediaTypes } from './openapi.js';
export { resources, resourceMetas, resourceNamed } from './resources/index.js';
export type { ResourceDeclaration } from './resource.js';
