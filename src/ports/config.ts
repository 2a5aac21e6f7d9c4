/**
 * The config sections components are given, as types only: the schema
 * (src/config) validates them; a component never imports the schema.
 */
export type { ApiConfig, ApiKeyConfig } from '../config/sections/api.js';
export type { ControlConfig } from '../config/sections/control.js';
export type { FleetConfig, VehicleConfig } from '../config/sections/fleet.js';
export type { GridConfig, OpenAdrConfig, OscpConfig, TariffConfig } from '../config/sections/grid.js';
export type {
  AuthoriserConfig,
  InfluxConfig,
  IntegrationConfig,
  ReportsConfig,
  WebhookConfig,
} from '../config/sections/integration.js';
export type {
  ModbusConfig,
  ModbusDeviceConfig,
  ModbusEvseConfig,
  ModbusLinkConfig,
} from '../config/sections/modbus.js';
export type { MqttConfig, MqttConfigInput, MqttDeviceConfig, MqttPointConfig } from '../config/sections/mqtt.js';
export type { OcppConfig } from '../config/sections/ocpp.js';
export type { OpcuaConfig, OpcuaDeviceConfig, OpcuaDeviceConfigInput, OpcuaNodeRef } from '../config/sections/opcua.js';
export type { ChargerConfig, SiteConfig } from '../config/sections/site.js';
export type { GatewayConfig } from '../config/schema.js';
