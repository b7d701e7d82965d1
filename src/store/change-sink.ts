import type { Charge } from '../domain/meter.js';
import type { EndpointRecord, GroupRecord, KeyRecord, ManagementKey, Workspace } from '../domain/records.js';
import type { StoredDelivery } from './webhook-log.js';

/** What the store tells its sink; see Store.setChangeSink. */
export interface ChangeSink {
  workspace(w: Workspace): void;
  managementKey(k: ManagementKey): void;
  group(g: GroupRecord): void;
  removedGroups(groups: readonly GroupRecord[]): void;
  key(k: KeyRecord): void;
  removedKey(prefix: string): void;
  endpoint(e: EndpointRecord): void;
  removedEndpoint(id: string): void;
  /** A reset() or restore(): the whole state changed. */
  replaced(): void;
  charged(now: number, charges: readonly Charge[]): void;
  delivery(d: StoredDelivery, added: boolean, deadLettered: boolean): void;
  clockMoved(offset: number): void;
}
