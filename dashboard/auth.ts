/**
 * Who may do what: bearer tokens or basic auth (any user name, the token as
 * password) from BULLPEN_DASHBOARD_TOKENS, in two roles. A viewer reads; an
 * operator also acts (trigger, retry, cancel, pause, resume, Bull Board
 * writes). Tokens are compared in constant time and never rendered or logged.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

export type Role = 'viewer' | 'operator';
export const ROLES: readonly Role[] = ['viewer', 'operator'];

export interface Credential {
  role: Role;
  token: string;
}

/** A bad setting, naming the variable (never echoing a token). */
export class DashboardConfigError extends Error {
  override name = 'DashboardConfigError';
}

/** Parses `viewer:<token>,operator:<token>,…` (any number of each role). */
export function parseTokens(spec: string | undefined, variable = 'BULLPEN_DASHBOARD_TOKENS'): Credential[] {
  if (!spec?.trim()) return [];
  return spec.split(',').map((part, i) => {
    const colon = part.indexOf(':');
    const role = part.slice(0, colon).trim();
    const token = part.slice(colon + 1).trim();
    if (colon < 0 || !ROLES.includes(role as Role)) throw new DashboardConfigError(`${variable}: entry ${i + 1} must be viewer:<token> or operator:<token>`);
    if (token.length < 16) throw new DashboardConfigError(`${variable}: entry ${i + 1} (${role}): the token must be at least 16 characters`);
    return { role: role as Role, token };
  });
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export interface Principal {
  role: Role;
  /** How the request proved it: a bearer header is never sent by a browser on its own (no CSRF risk). */
  via: 'bearer' | 'basic' | 'open';
  /** Stable per credential, for the CSRF token; not the token itself. */
  key: string;
}

export interface Auth {
  /** Sets `res.locals.principal`, or answers 401. */
  authenticate(req: Request, res: Response, next: NextFunction): void;
  /** The CSRF token to put in forms for this principal. */
  csrfToken(p: Principal): string;
  csrfValid(p: Principal, token: unknown): boolean;
}

/** `open`: no credentials needed (dev mode on a loopback address), everyone is an operator. */
export function createAuth(credentials: readonly Credential[], open: boolean): Auth {
  const known = credentials.map((c) => ({ role: c.role, hash: digest(c.token) }));
  const secret = randomBytes(32);
  const match = (token: string): Principal | undefined => {
    const h = digest(token);
    // check them all: the time taken does not say which one matched
    let found: (typeof known)[number] | undefined;
    for (const k of known) if (timingSafeEqual(k.hash, h) && !found) found = k;
    return found ? { role: found.role, via: 'basic', key: h.toString('hex') } : undefined;
  };
  const principalOf = (header: string | undefined): Principal | undefined => {
    if (!header) return undefined;
    const [scheme, value = ''] = header.split(' ', 2);
    if (scheme?.toLowerCase() === 'bearer') {
      const p = match(value.trim());
      return p && { ...p, via: 'bearer' };
    }
    if (scheme?.toLowerCase() === 'basic') {
      const decoded = Buffer.from(value.trim(), 'base64').toString('utf8');
      return match(decoded.slice(decoded.indexOf(':') + 1));
    }
    return undefined;
  };
  const csrfToken = (p: Principal): string => createHmac('sha256', secret).update(p.key).digest('base64url');
  return {
    authenticate(req, res, next) {
      // open (dev) mode answers only to loopback names: a page elsewhere cannot reach it by rebinding its DNS name
      if (open && !isLoopback(hostnameOf(req.headers.host))) {
        res.status(403).type('text/plain').send('forbidden: the dev dashboard answers only to localhost\n');
        return;
      }
      const p = open ? { role: 'operator' as const, via: 'open' as const, key: 'open' } : principalOf(req.headers.authorization);
      if (!p) {
        res.setHeader('WWW-Authenticate', 'Basic realm="bullpen dashboard", charset="UTF-8"');
        res.status(401).type('text/plain').send('authentication required: basic auth (the token as password) or Authorization: Bearer <token>\n');
        return;
      }
      res.locals.principal = p;
      next();
    },
    csrfToken,
    csrfValid(p, token) {
      if (typeof token !== 'string') return false;
      const want = Buffer.from(csrfToken(p));
      const got = Buffer.from(token);
      return want.length === got.length && timingSafeEqual(want, got);
    },
  };
}

function hostnameOf(host: string | undefined): string {
  try {
    return new URL(`http://${host ?? ''}`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return '';
  }
}

/** Same origin: the Origin (or else Referer) header, when present, names this host. */
export function sameOrigin(req: Request): boolean {
  const from = req.headers.origin ?? req.headers.referer;
  if (!from) return false;
  try {
    return new URL(from).host === req.headers.host;
  } catch {
    return false;
  }
}
