import { badRequest } from './errors.js';
import { checkCascade, MAX_DEPTH, normalizeModels, type Enforcement, type LimitNode, type ModelConfig, type ModelConfigInput } from './limits.js';

/**
 * The rules of groups and their hierarchy, as pure functions: where a new group may sit
 * and in which mode, what a PATCH may change and how (set semantics), and the two walks
 * of a tree (up to the root, down through a subtree). The services look records up and
 * hand them in; nothing here reads the store.
 */

export interface CreateGroupInput {
  metadata: { name?: string | null; external_entity_id: string };
  models: ModelConfigInput[];
  /** Required, as published; null or absent fields mean "inherit, or INDEPENDENT at a root" and "a root". */
  hierarchy: { limit_enforcement?: Enforcement | null; parent_group_id?: string | null };
}

/** `metadata: null` and `models: null` mean "not given", as in the published schema. */
export interface UpdateGroupInput {
  metadata?: { name?: string | null; external_entity_id?: string } | null;
  models?: ModelConfigInput[] | null;
  hierarchy?: { limit_enforcement?: Enforcement | null; parent_group_id?: string | null } | null;
}

/** What the rules need of a group: its place in the tree and its limits. */
export interface GroupNode extends LimitNode {
  parentId: string | null;
  mode: Enforcement;
  externalEntityId: string;
}

/** A change a PATCH makes: each field present replaces the stored one whole. */
export interface GroupChange {
  name?: string | null;
  models?: ModelConfig[];
}

/** The models of a new group: normalized, and at least one. */
export function newGroupModels(input: readonly ModelConfigInput[]): ModelConfig[] {
  const models = normalizeModels(input);
  if (models.length === 0) throw badRequest('models must list at least one model.', 'models_required', 'models');
  return models;
}

/**
 * The mode of a new group under `parent` (whose path to the root is `parentPath`, the
 * parent first): a tree has one mode, so a child inherits its parent's and may only
 * declare that same one; and a hierarchy is at most MAX_DEPTH levels deep. At a root the
 * declared mode, or INDEPENDENT.
 */
export function modeOfNewGroup(declared: Enforcement | undefined, parent: GroupNode | undefined, parentPath: readonly GroupNode[]): Enforcement {
  if (parent === undefined) return declared ?? 'INDEPENDENT';
  if (declared !== undefined && declared !== parent.mode) {
    throw badRequest(
      `hierarchy.limit_enforcement must be ${parent.mode}, the mode of the parent's tree; a tree has one mode.`,
      'enforcement_mismatch',
      'hierarchy.limit_enforcement',
    );
  }
  if (parentPath.length + 1 > MAX_DEPTH) {
    throw badRequest(`A hierarchy is at most ${MAX_DEPTH} levels deep; group ${parent.id} is at level ${parentPath.length}.`, 'hierarchy_too_deep', 'hierarchy.parent_group_id');
  }
  return parent.mode;
}

/**
 * PATCH of a group has **set semantics**: a field that is given replaces the stored one
 * whole (`models` is the new complete list, not merged with the old one; a model left out
 * is removed), and a field that is absent (or null) keeps its value. The immutable fields
 * (`metadata.external_entity_id`, `hierarchy`) may be repeated unchanged but not changed,
 * and a PATCH that names neither `metadata.name` nor `models` is the documented empty-body
 * 400. Under CASCADING the new models must fit the ancestors and still hold every
 * descendant (`tree` is asked only then).
 */
export function setSemanticsPatch(
  group: GroupNode,
  input: UpdateGroupInput,
  tree: () => { ancestors: readonly LimitNode[]; descendants: readonly LimitNode[] },
): GroupChange {
  const metadata = input.metadata ?? undefined;
  const hasName = metadata !== undefined && 'name' in metadata;
  const newModels = input.models ?? undefined;
  // Immutable fields first, so a PATCH that only tries to change one hears that rule.
  const ext = metadata?.external_entity_id;
  if (ext !== undefined && ext !== group.externalEntityId) {
    throw badRequest(
      'metadata.external_entity_id cannot be changed. To re-key a group, delete it and create a new one.',
      'immutable_field',
      'metadata.external_entity_id',
    );
  }
  const h = input.hierarchy ?? undefined;
  if (h !== undefined) {
    const changesMode = h.limit_enforcement != null && h.limit_enforcement !== group.mode;
    const changesParent = 'parent_group_id' in h && (h.parent_group_id ?? null) !== group.parentId;
    if (changesMode || changesParent) {
      throw badRequest('hierarchy is immutable after creation (parent_group_id and limit_enforcement).', 'immutable_field', 'hierarchy');
    }
  }
  if (!hasName && newModels === undefined) {
    throw badRequest('Provide at least one of metadata.name or models (metadata.external_entity_id and hierarchy cannot be changed).', 'empty_update', null);
  }
  const change: GroupChange = {};
  if (hasName) change.name = metadata?.name ?? null;
  if (newModels !== undefined) {
    const models = normalizeModels(newModels);
    if (group.mode === 'CASCADING') {
      const { ancestors, descendants } = tree();
      checkCascade({ id: group.id, models }, ancestors, descendants);
    }
    change.models = models;
  }
  return change;
}

/** The group, its parent, ... up to the root, following `parentOf`. */
export function pathToRoot<G extends { parentId: string | null }>(group: G, parentOf: (id: string) => G | undefined): G[] {
  const path: G[] = [];
  for (let g: G | undefined = group; g; g = g.parentId === null ? undefined : parentOf(g.parentId)) path.push(g);
  return path;
}

/** The group and all its descendants, the group first, following `childrenOf`. */
export function subtreeOf<G extends { id: string }>(root: G, childrenOf: (id: string) => Iterable<G>): G[] {
  const out: G[] = [];
  const stack = [root];
  while (stack.length) {
    const g = stack.pop() as G;
    out.push(g);
    for (const child of childrenOf(g.id)) stack.push(child);
  }
  return out;
}
