/**
 * The slice of the Docker Engine API (v1.41+) the provider reads, as zod schemas: Docker's replies
 * are external input, parsed at the boundary. Unknown fields are ignored; absent ones are optional.
 */
import * as z from 'zod';

const nullableRecord = <T extends z.ZodType>(v: T) => z.record(z.string(), v).nullish().transform((r) => r ?? {});

/** GET /containers/json: one row per container. */
export const ContainerSummary = z.object({ Id: z.string(), Names: z.array(z.string()).nullish() });
export type ContainerSummary = z.infer<typeof ContainerSummary>;

/** GET /containers/{id}/json: what a registration is derived from. */
export const ContainerInfo = z.object({
  Id: z.string(),
  Name: z.string(),
  Config: z.object({ Labels: nullableRecord(z.string()) }),
  State: z.object({
    Running: z.boolean(),
    Paused: z.boolean(),
    Restarting: z.boolean().optional(),
    Health: z.object({ Status: z.string() }).nullish(),
  }),
  HostConfig: z.object({ NetworkMode: z.string().optional() }).optional(),
  NetworkSettings: z
    .object({
      Ports: nullableRecord(z.array(z.object({ HostIp: z.string(), HostPort: z.string() })).nullable()),
      Networks: nullableRecord(z.object({ IPAddress: z.string().optional() })),
    })
    .optional(),
});
export type ContainerInfo = z.infer<typeof ContainerInfo>;

/** One message of the GET /events stream. */
export const DockerEvent = z.object({
  Type: z.string().optional(),
  Action: z.string().optional(),
  Actor: z.object({ ID: z.string() }).optional(),
  id: z.string().optional(),
});
export type DockerEvent = z.infer<typeof DockerEvent>;
