/** Whether /usr/bin/python3 imports torch; tests that need it skip with this reason otherwise. */
import { probePython } from '../../workers/backends/python.js';

export async function torchSkipReason(python = '/usr/bin/python3'): Promise<string | undefined> {
  try {
    const info = await probePython(python);
    return info.torch ? undefined : `${python} cannot import torch (${info.torchError ?? 'unknown'}); install it with apt-get install -y python3-torch`;
  } catch (err) {
    return `${python} does not run (${(err as Error).message}); install it with apt-get install -y python3-torch`;
  }
}
