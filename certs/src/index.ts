export {
  CERTS_HELP,
  type CertsOptions,
  ensureCertificates,
  kubeConfigOrDefault,
  parseCertsArgs,
  type Report,
} from './bootstrap.js';
export {
  type CertificateOptions,
  createCertificateAuthority,
  createServingCertificate,
  type KeyPair,
  type ServingOptions,
  serviceDnsNames,
} from './pki.js';
export { caBundle, type Existing, plan, type Step } from './plan.js';
