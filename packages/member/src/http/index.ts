/**
 * `@raftwire/member/http` (Node): a whole member over HTTP(S) in one call.
 */
export {
  createHttpMember,
  type HttpMemberOptions,
  type HttpMemberSecurity,
  type HttpMemberStorage,
  type HttpMemberTls,
} from './create-http-member.js';
export * from '../index.js';
