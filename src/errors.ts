// A mistake the user can fix (bad file, bad flag, bad checkpoint). The CLI prints its
// message as one line on stderr and exits non-zero; anything else is a bug and keeps its stack.
export class UserError extends Error {
  override readonly name = 'UserError';
}

// Work the backend lost on the device since its last read-back, found at that read-back: a GPU
// kernel whose workgroups wait on one another, one of whose waits gave up. The backend does that
// work another way from then on, so its caller runs it again from where it began.
export class LostWorkError extends Error {
  override readonly name = 'LostWorkError';
}

// Each LostWorkError gives up at least one kernel for good, and a model has few.
const MOST_REDOS = 32;

/** f(), run again, after `rewind`, each time it fails with LostWorkError. */
export async function redoLostWork<T>(f: () => Promise<T>, rewind: () => void = () => undefined): Promise<T> {
  for (let redos = 0; ; redos++) {
    try {
      return await f();
    } catch (err) {
      if (!(err instanceof LostWorkError) || redos === MOST_REDOS) throw err;
      rewind();
    }
  }
}
