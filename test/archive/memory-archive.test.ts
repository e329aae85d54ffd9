/**
 * The in-memory double the pull tests use, held to the same contract as the real adapters: a pull
 * test that passes against it passes because the double behaves as S3 + DynamoDB and files + SQLite
 * do, not because it is more forgiving.
 */
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import { describeMessageIndexContract, describeRawStoreContract } from './archive-contract.js';

describeRawStoreContract('MemoryRawStore (the pull tests’ double)', async () => {
  const store = new MemoryRawStore();
  return { store, listKeys: async () => [...store.objects.keys()] };
});

describeMessageIndexContract(
  'MemoryMessageIndex (the pull tests’ double)',
  async () => new MemoryMessageIndex(),
);
