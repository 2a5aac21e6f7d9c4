import {
  AttributeIds,
  BrowseDirection,
  DataType,
  NodeClass,
  type ReferenceDescription,
  resolveNodeId,
} from 'node-opcua';
import { createClient, type OpcuaConnectionOptions, userIdentity } from './connection.js';

export interface BrowseEntry {
  readonly nodeId: string;
  readonly browseName: string;
  readonly displayName: string;
  readonly nodeClass: string;
  /** Built-in data type of a variable (`Double`, `UInt32`, ...). */
  readonly dataType?: string;
  readonly value?: unknown;
}

export interface BrowseOptions extends OpcuaConnectionOptions {
  /** Read the value and data type of variables (default true). */
  readonly readValues?: boolean;
}

/**
 * List the children of a node (the Objects folder by default), so an
 * installer can find the NodeIds to put in the site config.
 */
export async function browse(
  endpoint: string,
  nodeId = 'ObjectsFolder',
  opts: BrowseOptions = {},
): Promise<BrowseEntry[]> {
  // One attempt only: a CLI user wants an error, not silent retries.
  const client = createClient(opts, { maxRetry: 0, initialDelay: 100, maxDelay: 200 });
  try {
    await client.connect(endpoint);
    const session = await client.createSession(userIdentity(opts));
    try {
      const refs: ReferenceDescription[] = [];
      let result = await session.browse({
        nodeId: resolveNodeId(nodeId),
        browseDirection: BrowseDirection.Forward,
        referenceTypeId: 'HierarchicalReferences',
        includeSubtypes: true,
        resultMask: 0x3f,
      });
      refs.push(...(result.references ?? []));
      while (result.continuationPoint && result.continuationPoint.length > 0) {
        const [next] = await session.browseNext([result.continuationPoint], false);
        if (!next) break;
        result = next;
        refs.push(...(result.references ?? []));
      }
      const variables = opts.readValues === false ? [] : refs.filter((r) => r.nodeClass === NodeClass.Variable);
      const reads =
        variables.length > 0
          ? await session.read(
              variables.flatMap((r) => [
                { nodeId: r.nodeId, attributeId: AttributeIds.Value },
                { nodeId: r.nodeId, attributeId: AttributeIds.DataType },
              ]),
            )
          : [];
      const details = new Map<string, { value: unknown; dataType?: string }>();
      variables.forEach((r, i) => {
        const value = reads[2 * i]?.value?.value;
        const dt = reads[2 * i + 1]?.value?.value as { namespace?: number; value?: unknown } | undefined;
        const dataType =
          dt && dt.namespace === 0 && typeof dt.value === 'number'
            ? (DataType[dt.value] ?? String(dt.value))
            : undefined;
        details.set(r.nodeId.toString(), { value, dataType });
      });
      return refs.map((r) => {
        const d = details.get(r.nodeId.toString());
        return {
          nodeId: r.nodeId.toString(),
          browseName: r.browseName.toString(),
          displayName: r.displayName.text ?? '',
          nodeClass: NodeClass[r.nodeClass] ?? String(r.nodeClass),
          ...(d?.dataType !== undefined ? { dataType: d.dataType } : {}),
          ...(d && d.value !== undefined && d.value !== null ? { value: d.value } : {}),
        };
      });
    } finally {
      await session.close().catch(() => {});
    }
  } finally {
    await client.disconnect().catch(() => {});
  }
}
