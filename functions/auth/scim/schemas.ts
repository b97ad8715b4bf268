// SCIM schema URNs and the attribute names each resource accepts (RFC 7643 §4, §8.7).
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
/** Zenokube's resource type for deletes, read by peer sites in cross-site sync (docs/scim-sync.md). */
export const TOMBSTONE_SCHEMA = 'urn:zenokube:params:scim:schemas:sync:2.0:Tombstone';
export const SEARCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

/** Simple string attributes of a User kept in `scim_extra`, by their SCIM name. */
export const USER_EXTRA_STRINGS = ['title', 'nickName', 'userType', 'locale', 'timezone', 'preferredLanguage', 'profileUrl'] as const;
export const ENTERPRISE_STRINGS = ['employeeNumber', 'costCenter', 'organization', 'division', 'department'] as const;

/** Entity tag of a resource version (RFC 7644 §3.14: weak, as `meta.version`). */
export const etagOf = (version: number) => `W/"${version}"`;
