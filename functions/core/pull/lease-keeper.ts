import type { MailboxLease } from '../archive/ports.js';
import { classifyError } from '../errors/popvault-error.js';
import { LeaseError } from './lease-error.js';
import type { RunLogger } from './pull-options.js';

/** Who this run is in the lease, and how to tell another holder is dead (a local run only). */
export interface LeaseIdentity {
  /** The lease owner this run writes (it must contain the run id, so every run's is unique). */
  ownerFor(runId: string): string;
  /** True only when the owner's process is certainly gone; false when unsure. */
  isProvablyDead(owner: string): boolean;
}

export interface LeaseTerms {
  mailboxId: string;
  owner: string;
  ttlMs: number;
}

/**
 * Takes the mailbox's lease, or takes it over from a holder proved dead on this machine (a killed
 * or crashed run cannot renew or use its lease: waiting for it to expire only locks the mailbox for
 * nothing). Returns the owner it took it from, undefined if it was free, or null if it is held.
 */
export async function acquireLease(
  index: MailboxLease,
  terms: LeaseTerms,
  now: number,
  identity: LeaseIdentity | undefined,
): Promise<{ previousOwner: string | undefined } | null> {
  if (await index.acquireLease({ ...terms, now })) return { previousOwner: undefined };
  if (identity === undefined) return null;
  const holder = await index.leaseHolder(terms.mailboxId);
  if (holder === null || !identity.isProvablyDead(holder.owner)) return null;
  const taken = await index.acquireLease({ ...terms, now, takeOverFrom: holder.owner });
  return taken ? { previousOwner: holder.owner } : null;
}

/**
 * Renews a held lease every third of its time to live, and aborts `signal` (with a LEASE_LOST
 * LeaseError as its reason) the moment another run is found holding it: the run then stops without
 * QUIT, which deletes nothing, rather than race that run.
 */
export class LeaseKeeper {
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #index: MailboxLease;
  readonly #terms: LeaseTerms;
  readonly #logger: RunLogger;

  constructor(index: MailboxLease, terms: LeaseTerms, now: () => number, logger: RunLogger) {
    this.#index = index;
    this.#terms = terms;
    this.#logger = logger;
    this.#timer = setInterval(() => this.#renew(now()), terms.ttlMs / 3);
    this.#timer.unref();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  #renew(now: number): void {
    this.#index.acquireLease({ ...this.#terms, now }).then(
      (held) => {
        if (held) return;
        this.#controller.abort(
          new LeaseError(
            'LEASE_LOST',
            `the lease on mailbox ${this.#terms.mailboxId} was lost to another run`,
          ),
        );
      },
      (err: unknown) => {
        this.#logger.warn('could not renew the lease; retrying', {
          mailboxId: this.#terms.mailboxId,
          errorCode: classifyError(err).code,
        });
      },
    );
  }

  /** Stops renewing and frees the lease; a lease that cannot be freed expires by itself. */
  async release(): Promise<void> {
    clearInterval(this.#timer);
    await this.#index
      .releaseLease(this.#terms.mailboxId, this.#terms.owner)
      .catch((err: unknown) => {
        this.#logger.warn('could not release the lease; it will expire by itself', {
          mailboxId: this.#terms.mailboxId,
          errorCode: classifyError(err).code,
        });
      });
  }
}
