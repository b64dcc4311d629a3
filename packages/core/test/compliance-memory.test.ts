import { memoryTestNetwork, runTransportCompliance } from '@raftwire/core/testing';

runTransportCompliance('memory', memoryTestNetwork({ seed: 42 }));
