import { z } from 'zod';

/**
 * The parts of the OpenADR 3.0.1 object model (components/schemas of the
 * spec's OpenAPI document, oadr3.0.1.yaml) the VEN reads and writes, with the
 * 3.1 differences it tolerates (targets as plain strings). Objects are loose:
 * a VTN may send fields we do not use; nullable fields are nullable as in
 * the spec.
 */

const nullish = <T extends z.ZodType>(t: T) => t.nullable().optional();

export const ObjectIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[a-zA-Z0-9_-]*$/);

/** ISO 8601 duration, the spec's own pattern. */
export const DurationSchema = z
  .string()
  .regex(/^(-?)P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)([DW]))?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/, {
    message: 'not an ISO 8601 duration',
  });

/** date-time; OpenADR 3 allows "0001-01-01" style sentinels, so parsing happens where it is used. */
export const DateTimeSchema = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), { message: 'not an ISO 8601 date-time' });

export const PointSchema = z.object({ x: z.number(), y: z.number() });

export const ValuesMapSchema = z.looseObject({
  type: z.string().min(1).max(128),
  values: z.array(z.union([z.number(), z.string(), z.boolean(), PointSchema])),
});
export type ValuesMap = z.infer<typeof ValuesMapSchema>;

/** 3.0.1: list of valuesMap; 3.1: list of strings. */
export const TargetsSchema = nullish(z.array(z.union([ValuesMapSchema, z.string()])));

export const IntervalPeriodSchema = z.looseObject({
  start: DateTimeSchema,
  duration: DurationSchema.optional(),
  randomizeStart: nullish(DurationSchema),
});
export type IntervalPeriod = z.infer<typeof IntervalPeriodSchema>;

export const IntervalSchema = z.looseObject({
  id: z.number().int(),
  intervalPeriod: nullish(IntervalPeriodSchema),
  payloads: z.array(ValuesMapSchema),
});
export type Interval = z.infer<typeof IntervalSchema>;

/** What a payload descriptor of an event and of a report both carry. */
const payloadDescriptor = {
  objectType: z.string().optional(),
  payloadType: z.string().min(1).max(128),
  units: nullish(z.string()),
};

export const EventPayloadDescriptorSchema = z.looseObject({ ...payloadDescriptor, currency: nullish(z.string()) });
export type EventPayloadDescriptor = z.infer<typeof EventPayloadDescriptorSchema>;

export const ReportPayloadDescriptorSchema = z.looseObject({
  ...payloadDescriptor,
  readingType: nullish(z.string()),
  accuracy: nullish(z.number()),
  confidence: nullish(z.number().int().min(0).max(100)),
});

export const ReportDescriptorSchema = z.looseObject({
  payloadType: z.string().min(1).max(128),
  readingType: nullish(z.string()),
  units: nullish(z.string()),
  targets: TargetsSchema,
  aggregate: nullish(z.boolean()),
  startInterval: nullish(z.number().int()),
  numIntervals: nullish(z.number().int()),
  historical: nullish(z.boolean()),
  frequency: nullish(z.number().int()),
  repeat: nullish(z.number().int()),
});

/** Header of an object we send (the VTN assigns the id). */
function sent<T extends string>(objectType: T) {
  return { id: ObjectIdSchema.optional(), objectType: z.literal(objectType).optional() };
}

/** Header of an object the VTN stores and lists: its id and times are always the VTN's. */
function stored<T extends string>(objectType: T) {
  return {
    id: ObjectIdSchema,
    createdDateTime: DateTimeSchema.optional(),
    modificationDateTime: DateTimeSchema.optional(),
    objectType: z.literal(objectType).optional(),
  };
}

export const ProgramSchema = z.looseObject({
  ...stored('PROGRAM'),
  programName: z.string().min(1).max(128),
  programLongName: nullish(z.string()),
  retailerName: nullish(z.string()),
  programType: nullish(z.string()),
  country: nullish(z.string()),
  timeZoneOffset: nullish(DurationSchema),
  intervalPeriod: nullish(IntervalPeriodSchema),
  bindingEvents: nullish(z.boolean()),
  localPrice: nullish(z.boolean()),
  payloadDescriptors: nullish(z.array(z.looseObject({ payloadType: z.string(), units: nullish(z.string()) }))),
  targets: TargetsSchema,
});
export type Program = z.infer<typeof ProgramSchema>;

export const EventSchema = z.looseObject({
  ...stored('EVENT'),
  programID: ObjectIdSchema,
  eventName: nullish(z.string()),
  priority: nullish(z.number().int().min(0)),
  targets: TargetsSchema,
  reportDescriptors: nullish(z.array(ReportDescriptorSchema)),
  payloadDescriptors: nullish(z.array(EventPayloadDescriptorSchema)),
  intervalPeriod: nullish(IntervalPeriodSchema),
  intervals: z.array(IntervalSchema),
});
export type OadrEvent = z.infer<typeof EventSchema>;

export const ReportSchema = z.looseObject({
  ...sent('REPORT'),
  programID: ObjectIdSchema,
  eventID: ObjectIdSchema,
  clientName: z.string().min(1).max(128),
  reportName: nullish(z.string()),
  payloadDescriptors: nullish(z.array(ReportPayloadDescriptorSchema)),
  resources: z.array(
    z.looseObject({
      resourceName: z.string().min(1).max(128),
      intervalPeriod: nullish(IntervalPeriodSchema),
      intervals: z.array(IntervalSchema),
    }),
  ),
});
export type OadrReport = z.infer<typeof ReportSchema>;

export const ResourceSchema = z.looseObject({
  ...sent('RESOURCE'),
  resourceName: z.string().min(1).max(128),
  venID: ObjectIdSchema.optional(),
  attributes: nullish(z.array(ValuesMapSchema)),
  targets: TargetsSchema,
});
export type OadrResource = z.infer<typeof ResourceSchema>;

export const VenSchema = z.looseObject({
  ...sent('VEN'),
  venName: z.string().min(1).max(128),
  attributes: nullish(z.array(ValuesMapSchema)),
  targets: TargetsSchema,
  resources: nullish(z.array(ResourceSchema)),
});
export type OadrVen = z.infer<typeof VenSchema>;

export const ObjectTypesSchema = z.enum(['PROGRAM', 'EVENT', 'REPORT', 'SUBSCRIPTION', 'VEN', 'RESOURCE']);

export const SubscriptionSchema = z.looseObject({
  ...sent('SUBSCRIPTION'),
  clientName: z.string().min(1).max(128),
  programID: ObjectIdSchema,
  objectOperations: z.array(
    z.looseObject({
      objects: z.array(ObjectTypesSchema),
      operations: z.array(z.enum(['GET', 'POST', 'PUT', 'DELETE'])),
      callbackUrl: z.string().url(),
      bearerToken: nullish(z.string()),
    }),
  ),
  targets: TargetsSchema,
});
export type OadrSubscription = z.infer<typeof SubscriptionSchema>;

export const NotificationSchema = z.looseObject({
  objectType: ObjectTypesSchema,
  operation: z.enum(['GET', 'POST', 'PUT', 'DELETE']),
  object: z.record(z.string(), z.unknown()),
  targets: TargetsSchema,
});

export const ClientCredentialResponseSchema = z.looseObject({
  access_token: z.string().min(1).max(4096),
  token_type: z.string().refine((t) => t.toLowerCase() === 'bearer', { message: 'must be Bearer' }),
  expires_in: z.number().int().positive().optional(),
  scope: z.string().optional(),
});

/** Payload types the VEN acts on. */
export const EVENT_PAYLOAD_TYPES = [
  'IMPORT_CAPACITY_LIMIT',
  'EXPORT_CAPACITY_LIMIT',
  'DISPATCH_SETPOINT',
  'PRICE',
  'SIMPLE',
] as const;
