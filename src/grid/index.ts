export { createGridService, type GridService, GridStatusSchema, SimpleSignalSchema } from './service.js';
export { type GridSignal, GridSignalStore, type SignalKind } from './signals.js';
export { siteDemandW, siteMeasurements, type VenMeasurements } from './measurements.js';
export { GRID_MIGRATIONS, GridPersistence } from './persistence.js';
export { createPriceFeed, type PriceFeed } from './price-feed.js';
export { compileCron, createTariff, type PriceBreakdown, sessionCost, type Tariff } from './tariff.js';
