/**
 * Storage calls that fail or hang on cue, inside the pull's own process. A "fail" throws at once, as
 * a refused or broken request would; a "hang" waits past the pull's idle timeout, lets the real call
 * go through, and then throws a timeout: the write landed but its acknowledgement was lost, the case
 * where a retry must not store the message twice.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { UploadPartCommand } from '@aws-sdk/client-s3';
import { ArchiveError } from '../../functions/core/archive/errors.js';
import type { MessageIndex, RawStore } from '../../functions/core/archive/ports.js';
import { withFaults } from '../support/pull-test-kit.js';
import type { StorageFault, StorageTarget } from './fault-plan.js';

export type FiredReporter = (description: string) => void;

class CallCounter {
  readonly #calls = new Map<StorageTarget, number>();
  constructor(
    private readonly fault: StorageFault | null,
    private readonly fired: FiredReporter,
  ) {}

  /** Runs `call` as the fault says for the `target` call being made now. */
  async around<T>(
    target: StorageTarget,
    call: () => Promise<T>,
    timeoutError: () => Error,
  ): Promise<T> {
    const n = (this.#calls.get(target) ?? 0) + 1;
    this.#calls.set(target, n);
    const fault = this.fault;
    if (fault === null || fault.target !== target || fault.call !== n) return call();
    if (fault.kind === 'storage-fail') {
      this.fired(`${target} call ${n} failed`);
      throw new ArchiveError('STORE_UNAVAILABLE', `chaos: ${target} call ${n} failed`);
    }
    this.fired(`${target} call ${n} hung ${fault.hangMs} ms, then timed out`);
    await new Promise((resolve) => setTimeout(resolve, fault.hangMs));
    await call().catch(() => undefined);
    throw timeoutError();
  }
}

const archiveTimeout = (target: StorageTarget) => () =>
  new ArchiveError('STORE_UNAVAILABLE', `chaos: ${target} timed out`);

/** An S3 client whose n-th UploadPart fails or hangs (the store maps the error as it would AWS's). */
export function faultyS3Client(
  client: S3Client,
  fault: StorageFault | null,
  fired: FiredReporter,
): S3Client {
  if (fault?.target !== 'multipart-part') return client;
  const counter = new CallCounter(fault, fired);
  const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
  return withFaults(client, {
    send: ((command: unknown) => {
      if (!(command instanceof UploadPartCommand)) return send(command);
      return counter.around(
        'multipart-part',
        () => send(command),
        () =>
          Object.assign(new Error('chaos: UploadPart timed out'), {
            name: 'TimeoutError',
            $metadata: {},
          }),
      );
    }) as S3Client['send'],
  });
}

export function faultyArchive(
  archive: { rawStore: RawStore; index: MessageIndex },
  fault: StorageFault | null,
  fired: FiredReporter,
): { rawStore: RawStore; index: MessageIndex } {
  if (fault === null || fault.target === 'multipart-part') return archive;
  const counter = new CallCounter(fault, fired);
  const { rawStore, index } = archive;
  let leaseCalls = 0;
  return {
    rawStore: withFaults(rawStore, {
      put: (input) =>
        counter.around('raw-put', () => rawStore.put(input), archiveTimeout('raw-put')),
    }),
    index: withFaults(index, {
      putMessage: (record) =>
        counter.around('index-put', () => index.putMessage(record), archiveTimeout('index-put')),
      markDeleted: (mailboxId, keys, at) =>
        counter.around(
          'mark-deleted',
          () => index.markDeleted(mailboxId, keys, at),
          archiveTimeout('mark-deleted'),
        ),
      putRun: (run) =>
        counter.around('run-record', () => index.putRun(run), archiveTimeout('run-record')),
      acquireLease: (request) => {
        leaseCalls += 1;
        // The first call takes the lease; every later one renews it.
        if (leaseCalls === 1) return index.acquireLease(request);
        return counter.around(
          'lease-renewal',
          () => index.acquireLease(request),
          archiveTimeout('lease-renewal'),
        );
      },
    }),
  };
}
