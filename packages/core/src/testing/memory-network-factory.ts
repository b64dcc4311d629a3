import type { TransportTestNetwork, TransportTestNetworkFactory } from './compliance.js';
import { MemoryNetwork, type MemoryNetworkOptions } from './memory-link.js';

/** A compliance-suite factory over {@link MemoryNetwork}: endpoint i is `memory://node-i`. */
export function memoryTestNetwork(options: MemoryNetworkOptions = {}): TransportTestNetworkFactory {
  return async (count: number): Promise<TransportTestNetwork> => {
    const net = new MemoryNetwork(options);
    const stops: (() => void)[] = [];
    const endpoints = Array.from({ length: count }, (_, i) => {
      const url = `memory://node-${i}`;
      return {
        url,
        link: net.link(url),
        serve(handler: Parameters<MemoryNetwork['serve']>[1]) {
          stops.push(net.serve(url, handler));
        },
      };
    });
    return {
      endpoints,
      dropConnections: (i: number) => net.dropConnections(endpoints[i]?.url),
      close: async () => {
        for (const s of stops) s();
        net.close();
      },
    };
  };
}
