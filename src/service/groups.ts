import { rfc3339 } from '../domain/clock.js';
import { badRequest, forbidden, notFound } from '../domain/errors.js';
import {
  modeOfNewGroup,
  newGroupModels,
  pathToRoot,
  setSemanticsPatch,
  subtreeOf,
  type CreateGroupInput,
  type UpdateGroupInput,
} from '../domain/groups.js';
import { checkCascade, copyModels, effectiveModels, type EffectiveModel, type Enforcement, type ModelConfig } from '../domain/limits.js';
import { paginate, SeqIndex, type Page } from '../domain/pagination.js';
import type { GroupRecord } from '../domain/records.js';
import type { Group } from '../generated/frontier-gateway.js';
import type { Store } from '../store/store.js';

/**
 * Groups over the store: lookups and tenancy (404 for none, 403 for another workspace's),
 * then the pure rules of src/domain/groups.ts and src/domain/limits.ts, then the store's
 * write. No HTTP here; the HTTP layer turns the GatewayErrors thrown into responses.
 */

export type { CreateGroupInput, UpdateGroupInput };

/** A group as the API shows it (generated from the spec's `Group`). */
export type GroupView = Group;

export interface PageRequest {
  limit: number;
  cursor?: string;
}

export class GroupService {
  constructor(private readonly store: Store) {}

  create(workspaceId: string, input: CreateGroupInput): GroupView {
    const models = newGroupModels(input.models);
    const externalId = input.metadata.external_entity_id;
    this.assertExternalIdFree(workspaceId, externalId);

    const parentId = input.hierarchy?.parent_group_id ?? null;
    let parent: GroupRecord | undefined;
    if (parentId !== null) {
      parent = this.store.group(parentId);
      if (!parent || parent.workspaceId !== workspaceId) {
        throw notFound(`Parent group ${parentId} not found in this workspace.`, 'parent_not_found', 'hierarchy.parent_group_id');
      }
    }
    const ancestors = parent ? this.pathToRoot(parent) : [];
    const mode = modeOfNewGroup(input.hierarchy?.limit_enforcement ?? undefined, parent, ancestors);

    const id = this.uniqueGroupId();
    if (mode === 'CASCADING') checkCascade({ id, models }, ancestors, []);

    const group = this.store.insertGroup({
      id,
      workspaceId,
      name: input.metadata.name ?? null,
      externalEntityId: externalId,
      models,
      mode,
      parentId,
    });
    return this.view(group);
  }

  list(workspaceId: string, page: PageRequest & { externalEntityId?: string }): Page<GroupView> {
    const ext = page.externalEntityId;
    const scope = `groups:${workspaceId}:${ext === undefined ? '*' : `=${ext}`}`;
    let result: Page<GroupRecord>;
    if (ext === undefined) {
      result = paginate(this.store.groupsOf(workspaceId), this.store.cursors, scope, page.limit, page.cursor);
    } else {
      // At most one group matches: a one-item list, with the same cursor contract.
      const only = new SeqIndex<GroupRecord>();
      const g = this.store.groupByExternalId(workspaceId, ext);
      if (g) only.add(g);
      result = paginate(only, this.store.cursors, scope, page.limit, page.cursor);
    }
    return { items: result.items.map((g) => this.view(g)), pagination: result.pagination };
  }

  get(workspaceId: string, groupId: string): GroupView {
    return this.view(this.find(workspaceId, groupId));
  }

  update(workspaceId: string, groupId: string, input: UpdateGroupInput): GroupView {
    const group = this.find(workspaceId, groupId);
    const change = setSemanticsPatch(group, input, () => ({ ancestors: this.pathToRoot(group).slice(1), descendants: this.subtree(group).slice(1) }));
    this.store.updateGroup(group.id, change);
    return this.view(group);
  }

  delete(workspaceId: string, groupId: string): { id: string; metadata: GroupView['metadata']; deleted_at: string } {
    const group = this.find(workspaceId, groupId);
    const deletedAt = rfc3339(this.store.clock.now()); // before anything changes, like every answer built from the clock
    this.store.removeSubtree(group.id);
    return {
      id: group.id,
      metadata: { name: group.name, external_entity_id: group.externalEntityId },
      deleted_at: deletedAt,
    };
  }

  /** 404 when no such live group exists; 403 when it lives in another workspace. */
  find(workspaceId: string, groupId: string): GroupRecord {
    const group = this.store.group(groupId);
    if (!group) throw notFound(`Group ${groupId} not found.`, 'group_not_found', 'group_id');
    if (group.workspaceId !== workspaceId) {
      throw forbidden(`Group ${groupId} is not in your workspace.`, 'group_in_other_workspace');
    }
    return group;
  }

  /** The group's effective limits: its own and its ancestors', by the tree's mode. */
  effective(group: GroupRecord): EffectiveModel[] {
    return effectiveModels(group.mode, this.pathToRoot(group));
  }

  view(group: GroupRecord): GroupView {
    return {
      id: group.id,
      metadata: { name: group.name, external_entity_id: group.externalEntityId },
      models: copyModels(group.models),
      effective_models: this.effective(group),
      hierarchy: { limit_enforcement: group.mode, parent_group_id: group.parentId },
      created_at: rfc3339(group.createdAt),
    };
  }

  /** The group, its parent, ... up to the root. */
  pathToRoot(group: GroupRecord): GroupRecord[] {
    return pathToRoot(group, (id) => this.store.group(id));
  }

  /** The group and all its descendants, the group first. */
  subtree(group: GroupRecord): GroupRecord[] {
    return subtreeOf(group, (id) => this.store.childrenOf(id));
  }

  private assertExternalIdFree(workspaceId: string, externalId: string): void {
    const holder = this.store.groupByExternalId(workspaceId, externalId);
    if (holder !== undefined) {
      throw badRequest(
        `metadata.external_entity_id ${externalId} is already used by group ${holder.id} in this workspace.`,
        'duplicate_external_entity_id',
        'metadata.external_entity_id',
      );
    }
  }

  private uniqueGroupId(): string {
    let id = this.store.ids.groupId();
    while (this.store.group(id)) id = this.store.ids.groupId();
    return id;
  }
}
