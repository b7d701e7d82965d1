import type { Store } from '../store/store.js';
import { AccessService } from './access.js';
import { EndpointService, type EndpointPolicy } from './endpoints.js';
import { EventService, type EventsPolicy } from './events.js';
import { GroupService } from './groups.js';
import { KeyService } from './keys.js';
import { UsageService } from './usage.js';

/**
 * The gateway's services over one store, wired once: groups, keys, endpoints, limit
 * accounting, billing events and who is calling. Each is a thin orchestrator: look up, apply the pure
 * rules of src/domain/, write through the store. The chat-completion use case is
 * src/service/inference.ts, over these.
 */
export class Gateway {
  readonly groups: GroupService;
  readonly keys: KeyService;
  readonly usage: UsageService;
  readonly access: AccessService;
  readonly endpoints: EndpointService;
  readonly events: EventService;

  constructor(
    readonly store: Store,
    endpointPolicy?: EndpointPolicy,
    eventsPolicy?: EventsPolicy,
  ) {
    this.groups = new GroupService(store);
    this.keys = new KeyService(store, this.groups);
    this.usage = new UsageService(store, this.groups);
    this.access = new AccessService(store);
    this.endpoints = new EndpointService(store, endpointPolicy);
    this.events = new EventService(store, eventsPolicy);
  }
}
