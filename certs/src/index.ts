export { type CertsOptions, ensureCertificates, type Report } from './bootstrap.js';
export { CERTS_HELP, CERTS_SETTINGS, certsOptions } from './options.js';
export {
  type CertificateOptions,
  createCertificateAuthority,
  createServingCertificate,
  type KeyPair,
  type ServingOptions,
  serviceDnsNames,
} from './pki.js';
export { caBundle, type Existing, plan, type Step } from './plan.js';
