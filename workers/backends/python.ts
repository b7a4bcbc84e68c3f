/**
 * Finding a Python interpreter: the configured one (BULLPEN_PYTHON or a
 * step's `python`), else the first of `python3`, `/usr/bin/python3`, `python`
 * that imports torch. A probe also says whether torch sees a GPU, so the
 * `train` step can pass `cuda` or `cpu` through. Results are cached per process.
 */
import { execFile } from 'node:child_process';
import { StepError } from '../errors.js';

export interface PythonInfo {
  path: string;
  version: string;
  /** torch version, or null when it does not import. */
  torch: string | null;
  cuda: boolean;
  /** First GPU's name when cuda. */
  gpu?: string;
  /** Why torch did not import. */
  torchError?: string;
}

export const DEFAULT_PYTHONS = ['python3', '/usr/bin/python3', 'python'] as const;

export const TORCH_INSTALL_HINT =
  'install PyTorch for one of them (Debian/Ubuntu: apt-get install -y python3-torch, then /usr/bin/python3 imports it; ' +
  'or pip install torch), or set BULLPEN_PYTHON to an interpreter that imports torch';

const PROBE = `
import json, sys
out = {"version": sys.version.split()[0], "torch": None, "cuda": False}
try:
    import torch
    out["torch"] = torch.__version__
    out["cuda"] = bool(torch.cuda.is_available())
    if out["cuda"]:
        out["gpu"] = torch.cuda.get_device_name(0)
except Exception as e:
    out["torchError"] = type(e).__name__ + ": " + str(e)
print(json.dumps(out))
`;

const cache = new Map<string, Promise<PythonInfo>>();

/** Runs the probe with one interpreter; rejects with a one-line reason. */
export function probePython(path: string, timeoutMs = 60_000): Promise<PythonInfo> {
  let p = cache.get(path);
  if (!p) {
    p = new Promise<PythonInfo>((resolve, reject) => {
      execFile(path, ['-c', PROBE], { timeout: timeoutMs }, (err, stdout, stderr) => {
        if (err) {
          const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : stderr.trim().split('\n').at(-1) || err.message;
          return reject(new Error(why));
        }
        try {
          resolve({ path, ...(JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Omit<PythonInfo, 'path'>) });
        } catch {
          reject(new Error(`unexpected probe output: ${stdout.slice(0, 200)}`));
        }
      });
    });
    p.catch(() => cache.delete(path));
    cache.set(path, p);
  }
  return p;
}

/** Each candidate's probe result (for `bullpen doctor`). */
export async function probeAll(configured?: string): Promise<{ path: string; info?: PythonInfo; error?: string }[]> {
  const candidates = configured ? [configured] : [...DEFAULT_PYTHONS];
  return Promise.all(
    candidates.map((path) =>
      probePython(path).then(
        (info) => ({ path, info }),
        (err: Error) => ({ path, error: err.message }),
      ),
    ),
  );
}

/**
 * The interpreter to use. With `torch`, one that imports torch; else any
 * working one (preferring one with torch). Throws a StepError that lists
 * what was tried and how to fix it.
 */
export async function findPython(opts: { configured?: string; torch: boolean }): Promise<PythonInfo> {
  const results = await probeAll(opts.configured);
  const withTorch = results.find((r) => r.info?.torch);
  if (withTorch?.info) return withTorch.info;
  const any = results.find((r) => r.info);
  if (!opts.torch && any?.info) return any.info;
  const tried = results
    .map((r) => `  ${r.path}${opts.configured ? ' (BULLPEN_PYTHON or the step\'s python)' : ''}: ${r.error ?? r.info?.torchError ?? 'no torch'}`)
    .join('\n');
  const what = opts.torch ? 'no Python interpreter that imports torch' : 'no working Python interpreter';
  throw new StepError(`${what}; tried:\n${tried}\nTo fix: ${opts.torch ? TORCH_INSTALL_HINT : 'install python3 or set BULLPEN_PYTHON'}`, { retryable: false });
}
