/** Core's in-memory reference stores against the shared conformance suite. */
import {
  MemoryAccountStoreImpl,
  MemoryOfflineStoreImpl,
  MemoryPresenceStoreImpl,
  MemoryRosterStoreImpl,
} from '@strand/core';
import {
  accountStoreConformance,
  offlineStoreConformance,
  presenceStoreConformance,
  rosterStoreConformance,
  type StoreFactory,
} from './store-conformance.js';

function memory<S>(make: () => S): StoreFactory<S> {
  return { persistent: false, open: async () => ({ store: make(), close: async () => {} }) };
}

accountStoreConformance('memory', memory(() => new MemoryAccountStoreImpl()));
rosterStoreConformance('memory', memory(() => new MemoryRosterStoreImpl()));
presenceStoreConformance('memory', memory(() => new MemoryPresenceStoreImpl()));
offlineStoreConformance('memory', {
  persistent: false,
  open: async (options) => {
    const store = new MemoryOfflineStoreImpl();
    if (options?.maxPerUser !== undefined) store.maxPerUser = options.maxPerUser;
    return { store, close: async () => {} };
  },
});
