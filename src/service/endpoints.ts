import { EndpointSync, type Route } from '../domain/endpoint-sync.js';
import { checkSlugOwned, normalizeTargets, type EndpointTarget, type EndpointTargetInput, type Organisation, type Region } from '../domain/endpoints.js';
import { badRequest, forbidden, notFound } from '../domain/errors.js';
import { paginate, type Page } from '../domain/pagination.js';
import type { EndpointRecord } from '../domain/records.js';
import type { Endpoint } from '../generated/frontier-gateway.js';
import type { Store } from '../store/store.js';

/**
 * Endpoints over the store: global slug uniqueness, tenancy (403 for another workspace's
 * endpoint, 404 for none), timestamps, and the routing lookup inference uses. The field
 * rules are the pure functions of src/domain/endpoints.ts.
 */

/** An endpoint as the API shows it (generated from the spec's `Endpoint`). */
export type EndpointView = Endpoint;

export interface CreateEndpointInput {
  slug: string;
  region?: Region | null;
  targets: EndpointTargetInput[];
}

export interface UpdateEndpointInput {
  slug?: string;
  targets?: EndpointTargetInput[];
}

export interface EndpointPolicy {
  /** Refuse a PATCH that changes the slug (the published schema since 2026-06-25). Default true. */
  immutableSlugs: boolean;
  /** Refuse inference for a slug with no endpoint (the live gateway's behaviour). Default false. */
  requireEndpoints: boolean;
  /**
   * Seconds of mock time before an endpoint change reaches inference (the live gateway
   * syncs every 60 s). Default 0: at once. Management reads see changes at once either way.
   */
  syncSeconds?: number;
}

export class EndpointService {
  /** What inference sees: the endpoints as of the last sync (src/domain/endpoint-sync.ts). */
  readonly sync: EndpointSync;

  constructor(
    private readonly store: Store,
    readonly policy: EndpointPolicy = { immutableSlugs: true, requireEndpoints: false },
  ) {
    this.sync = new EndpointSync((policy.syncSeconds ?? 0) * 1000);
    // A reset, restore or scenario load replaces the state: it counts as synced.
    store.onReplaced(() => this.sync.clear());
  }

  create(workspaceId: string, input: CreateEndpointInput): EndpointView {
    const org = this.organisation(workspaceId);
    checkSlugOwned(input.slug, org);
    this.assertSlugFree(input.slug);
    const targets = normalizeTargets(input.targets, org);
    let id = this.store.ids.endpointId();
    while (this.store.endpoint(id)) id = this.store.ids.endpointId();
    const record = this.store.insertEndpoint({ id, workspaceId, slug: input.slug, region: input.region ?? 'UNRESTRICTED', targets });
    this.sync.changed(record.slug, this.store.clock.now(), null);
    return endpointView(record);
  }

  list(workspaceId: string, page: { limit: number; cursor?: string }): Page<EndpointView> {
    const result = paginate(this.store.endpointsOf(workspaceId), this.store.cursors, `endpoints:${workspaceId}`, page.limit, page.cursor);
    return { items: result.items.map(endpointView), pagination: result.pagination };
  }

  get(workspaceId: string, id: string): EndpointView {
    return endpointView(this.find(workspaceId, id));
  }

  update(workspaceId: string, id: string, input: UpdateEndpointInput): EndpointView {
    const endpoint = this.find(workspaceId, id);
    if (input.slug === undefined && input.targets === undefined) {
      throw badRequest(this.policy.immutableSlugs ? 'Provide targets.' : 'Provide at least one of targets or slug.', 'empty_update', null);
    }
    const org = this.organisation(workspaceId);
    const renames = input.slug !== undefined && input.slug !== endpoint.slug;
    if (renames) {
      if (this.policy.immutableSlugs) {
        throw badRequest(
          'slug is immutable after creation: create an endpoint with the new slug and delete this one (this mock renames only when started with --allow-endpoint-renames).',
          'immutable_field',
          'slug',
        );
      }
      checkSlugOwned(input.slug as string, org);
      this.assertSlugFree(input.slug as string);
    }
    // Check everything before changing anything.
    const targets = input.targets === undefined ? endpoint.targets : normalizeTargets(input.targets, org);
    const now = this.store.clock.now();
    this.sync.changed(endpoint.slug, now, routeOf(endpoint));
    if (renames) this.sync.changed(input.slug as string, now, null);
    return endpointView(this.store.updateEndpoint(endpoint.id, { ...(renames ? { slug: input.slug as string } : {}), targets }));
  }

  delete(workspaceId: string, id: string): { id: string; slug: string } {
    const endpoint = this.find(workspaceId, id);
    this.sync.changed(endpoint.slug, this.store.clock.now(), routeOf(endpoint));
    this.store.removeEndpoint(endpoint.id);
    return { id: endpoint.id, slug: endpoint.slug };
  }

  /**
   * The route of a call from `workspaceId` to `slug`, as the gateway last synced it: only
   * the caller's own organisation's endpoints count. Under `requireEndpoints` a slug
   * without one is 404.
   */
  route(workspaceId: string, slug: string): Route | undefined {
    const current = this.store.endpointBySlug(slug);
    // The record is a Route as it is (its workspace and targets): no copy on every completion.
    const seen = this.sync.seen(slug, this.store.clock.now(), current ?? null);
    const own = seen && seen.workspaceId === workspaceId ? seen : undefined;
    if (!own && this.policy.requireEndpoints) {
      const until = current?.workspaceId === workspaceId ? this.sync.pendingUntil(slug, this.store.clock.now()) : null;
      throw notFound(
        until === null
          ? `The model \`${slug}\` has no endpoint: create one with POST /v1/gateway/endpoints.`
          : `The model \`${slug}\` has no endpoint the gateway has synced yet: its endpoint reaches inference at ${new Date(until).toISOString()} (endpoints sync every ${this.sync.syncMs / 1000} s).`,
        'endpoint_not_found',
        'model',
      );
    }
    return own;
  }

  /** 404 when no such endpoint exists; 403 when it belongs to another workspace. */
  private find(workspaceId: string, id: string): EndpointRecord {
    const endpoint = this.store.endpoint(id);
    if (!endpoint) throw notFound(`Endpoint ${id} not found.`, 'endpoint_not_found', 'endpoint_id');
    if (endpoint.workspaceId !== workspaceId) throw forbidden(`Endpoint ${id} is not in your workspace.`, 'endpoint_in_other_workspace');
    return endpoint;
  }

  private assertSlugFree(slug: string): void {
    if (this.store.endpointBySlug(slug)) {
      throw badRequest(`slug ${slug} is already taken; endpoint slugs are unique across all organisations.`, 'duplicate_slug', 'slug');
    }
  }

  private organisation(workspaceId: string): Organisation {
    const w = this.store.workspace(workspaceId);
    if (!w) return { orgPrefixes: [], environments: [] };
    return { orgPrefixes: w.orgPrefixes, environments: w.environments };
  }
}

const routeOf = (e: EndpointRecord): Route => ({ workspaceId: e.workspaceId, targets: e.targets });

export function endpointView(e: EndpointRecord): EndpointView {
  return {
    id: e.id,
    slug: e.slug,
    region: e.region,
    targets: structuredClone(e.targets),
    // Milliseconds, so that updated_at visibly moves on every change, however quick.
    created_at: new Date(e.createdAt).toISOString(),
    updated_at: new Date(e.updatedAt).toISOString(),
  };
}
