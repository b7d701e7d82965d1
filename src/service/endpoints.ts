import { checkSlugOwned, normalizeTargets, type EndpointTarget, type EndpointTargetInput, type Organisation, type Region } from '../domain/endpoints.js';
import { badRequest, forbidden, notFound } from '../domain/errors.js';
import { paginate, type Page } from '../domain/pagination.js';
import type { EndpointRecord } from '../domain/records.js';
import type { Store } from '../store/store.js';

/**
 * Endpoints over the store: global slug uniqueness, tenancy (403 for another workspace's
 * endpoint, 404 for none), timestamps, and the routing lookup inference uses. The field
 * rules are the pure functions of src/domain/endpoints.ts.
 */

export interface EndpointView {
  id: string;
  slug: string;
  region: Region;
  targets: EndpointTarget[];
  created_at: string;
  updated_at: string;
}

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
}

export class EndpointService {
  constructor(
    private readonly store: Store,
    readonly policy: EndpointPolicy = { immutableSlugs: true, requireEndpoints: false },
  ) {}

  create(workspaceId: string, input: CreateEndpointInput): EndpointView {
    const org = this.organisation(workspaceId);
    checkSlugOwned(input.slug, org);
    this.assertSlugFree(input.slug);
    const targets = normalizeTargets(input.targets, org);
    let id = this.store.ids.endpointId();
    while (this.store.endpoint(id)) id = this.store.ids.endpointId();
    const record = this.store.insertEndpoint({ id, workspaceId, slug: input.slug, region: input.region ?? 'UNRESTRICTED', targets });
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
    return endpointView(this.store.updateEndpoint(endpoint.id, { ...(renames ? { slug: input.slug as string } : {}), targets }));
  }

  delete(workspaceId: string, id: string): { id: string; slug: string } {
    const endpoint = this.find(workspaceId, id);
    this.store.removeEndpoint(endpoint.id);
    return { id: endpoint.id, slug: endpoint.slug };
  }

  /**
   * The endpoint a call from `workspaceId` to `slug` is routed by: only the caller's own
   * organisation's endpoints count. Under `requireEndpoints` a slug without one is 404.
   */
  route(workspaceId: string, slug: string): EndpointRecord | undefined {
    const endpoint = this.store.endpointBySlug(slug);
    const own = endpoint && endpoint.workspaceId === workspaceId ? endpoint : undefined;
    if (!own && this.policy.requireEndpoints) {
      throw notFound(`The model \`${slug}\` has no endpoint: create one with POST /v1/gateway/endpoints.`, 'endpoint_not_found', 'model');
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
