/**
 * The user-facing contract: label and annotation names. They are part of the product (README, DESIGN.md);
 * keep them stable.
 */
const PREFIX = 'sidecar-destruct.io';

export const NAMESPACE_INJECTION_LABEL = `${PREFIX}/injection`;
export const NAMESPACE_INJECTION_ENABLED = 'enabled';
export const POD_INJECT_LABEL = `${PREFIX}/inject`;

export const SELECTOR_ANNOTATION = `${PREFIX}/selector`;
export const GRACE_PERIOD_ANNOTATION = `${PREFIX}/grace-period`;
export const NFD_OUTAGE_GRACE_PERIOD_ANNOTATION = `${PREFIX}/nfd-outage-grace-period`;
export const ACTION_ANNOTATION = `${PREFIX}/action`;
export const DRY_RUN_ANNOTATION = `${PREFIX}/dry-run`;
export const STATUS_ANNOTATION = `${PREFIX}/status`;
export const STATUS_INJECTED = 'injected';

/** Event reasons the sidecar records on its pod (`kubectl describe pod` shows them). */
export const EVENT_REASON = 'NodeConstraintLost';
export const EVENT_REASON_BLOCKED = 'EvictionBlocked';
/** The API refused the sidecar's delete or eviction outright (403): its account lacks the sidecar role. */
export const EVENT_REASON_FORBIDDEN = 'SelfDestructForbidden';
