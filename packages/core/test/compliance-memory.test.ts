import { memoryTestNetwork, runTransportCompliance } from '@raftwire/core/compliance';

runTransportCompliance('memory', memoryTestNetwork({ seed: 42 }));
