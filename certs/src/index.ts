export {
  type CertificateOptions,
  createCertificateAuthority,
  createServingCertificate,
  type KeyPair,
  type ServingOptions,
  serviceDnsNames,
} from './pki.js';
