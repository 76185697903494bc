/** The OpenAPI 3 description of the REST endpoints, served at `<base>/openapi.json`. */
export function openApiDocument(basePath: string): Record<string, unknown> {
  const cameraId = { name: 'id', in: 'path', required: true, description: 'Camera id (camera-source "Camera id")', schema: { type: 'string' } };
  const error = { description: 'JSON error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  const clipId = { name: 'clip', in: 'path', required: true, description: 'Clip id', schema: { type: 'string' } };
  const list = (schema: string) => ({ description: 'OK', content: { 'application/json': { schema: { type: 'array', items: { $ref: `#/components/schemas/${schema}` } } } } });
  const json = (schema: string) => ({ description: 'OK', content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } } });
  return {
    openapi: '3.0.3',
    info: { title: 'Retail analytics API', version: '1', description: 'People counts, zones, footfall and camera images from the Node-RED retail analytics nodes.' },
    servers: [{ url: basePath }],
    paths: {
      '/health': {
        get: {
          summary: 'Service and camera health: 200 when ok or degraded, 503 when down (with ?strict, whenever not ok)',
          parameters: [{ name: 'strict', in: 'query', required: false, description: 'answer 503 unless every camera and model is ok', schema: { type: 'boolean' } }],
          responses: { 200: json('Health'), 503: json('Health') },
        },
      },
      '/cameras': { get: { summary: 'All cameras', responses: { 200: { description: 'OK', content: { 'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/Camera' } } } } } } } },
      '/cameras/{id}': { get: { summary: 'One camera with its zones and lines', parameters: [cameraId], responses: { 200: json('CameraDetail'), 400: error, 404: error } } },
      '/cameras/{id}/frame': {
        get: {
          summary: 'Latest frame with boxes, track ids, trails, zones and lines drawn (JPEG)',
          parameters: [cameraId, { name: 'quality', in: 'query', required: false, description: 'JPEG quality 1-100', schema: { type: 'integer', minimum: 1, maximum: 100 } }],
          responses: { 200: { description: 'JPEG image', content: { 'image/jpeg': {} } }, 400: error, 404: error },
        },
      },
      '/cameras/{id}/heatmap': {
        get: { summary: 'Latest heatmap image from a heatmap node', parameters: [cameraId], responses: { 200: { description: 'PNG or JPEG image', content: { 'image/png': {}, 'image/jpeg': {} } }, 400: error, 403: error, 404: error } },
      },
      '/stats': { get: { summary: 'Occupancy, footfall today and per hour, peak occupancy: per camera and in total', responses: { 200: json('Stats') } } },
      '/conversion': {
        get: {
          summary: 'Sales joined with footfall: conversion rate, average basket and spend per visitor for a day, its hours and the week up to it',
          parameters: [{ name: 'day', in: 'query', required: false, description: 'Local day YYYY-MM-DD; today by default', schema: { type: 'string', format: 'date' } }],
          responses: { 200: json('ConversionReport'), 400: error, 404: error },
        },
      },
      '/zones': { get: { summary: 'Zone and line analytics of every camera', responses: { 200: { description: 'OK', content: { 'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/CameraZones' } } } } } } } },
      '/export': {
        get: {
          summary: 'Counts per interval, zone and line for spreadsheets and BI tools (CSV or JSON)',
          description:
            'One row per interval, camera and counter the camera counted with while it ran (zeros included). For a zone, in and out are entries and exits, avg_dwell_seconds the mean dwell of the visits that ended in the interval, peak_occupancy the most people inside at once; both are empty for a line. Times are the store\'s local time with its offset; days are local days (23 or 25 hours on clock-change days). Over all the retained time the in/out totals equal /zones. Minutes are kept 7 days and hours 400 by default (zone-analytics Keep). With a store calendar, hours says whether the interval lies in opening hours (open, closed, partly); empty without one.',
          parameters: [
            { name: 'interval', in: 'query', required: false, description: 'minute, hour (default) or day', schema: { type: 'string', enum: ['minute', 'hour', 'day'] } },
            { name: 'format', in: 'query', required: false, description: 'csv (default) or json', schema: { type: 'string', enum: ['csv', 'json'] } },
            { name: 'from', in: 'query', required: false, description: 'Intervals starting from: a local day (2026-12-05), an ISO 8601 time with offset, or ms since 1970; the oldest kept by default', schema: { type: 'string' } },
            { name: 'to', in: 'query', required: false, description: 'Intervals starting before (same forms); now by default', schema: { type: 'string' } },
            { name: 'camera', in: 'query', required: false, description: 'Only this camera', schema: { type: 'string' } },
          ],
          responses: {
            200: {
              description: 'The rows',
              content: {
                'text/csv': { schema: { type: 'string', example: 'start,end,camera,kind,counter,in,out,avg_dwell_seconds,peak_occupancy,hours\r\n2026-12-05T10:00:00+01:00,2026-12-05T11:00:00+01:00,entrance,line,door,41,37,,,open\r\n' } },
                'application/json': { schema: { $ref: '#/components/schemas/Export' } },
              },
            },
            400: error,
            404: error,
            413: error,
          },
        },
      },
      '/cameras/{id}/clips': {
        get: { summary: "The camera's clips, newest first", parameters: [cameraId], responses: { 200: list('ClipSummary'), 404: error } },
        post: {
          summary: "Records the camera's next seconds (5-600, 60 by default) with what the product counts in them, for a count audit",
          description: 'Every frame the pipeline sends this api-out node is kept as JPEG, with the growth of each line\'s in and out and each zone\'s entries at that frame. One recording per camera at a time; the newest 20 clips keep their frames. Refused in privacy mode (403) and for another instance\'s camera (409).',
          parameters: [cameraId],
          requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { seconds: { type: 'number', minimum: 5, maximum: 600 } } } } } },
          responses: { 202: json('ClipSummary'), 400: error, 403: error, 404: error, 409: error, 503: error },
        },
      },
      '/clips': {
        get: { summary: 'Every clip, newest first', parameters: [{ name: 'camera', in: 'query', required: false, description: 'Only this camera', schema: { type: 'string' } }], responses: { 200: list('ClipSummary') } },
      },
      '/clips/{clip}': { get: { summary: 'A clip: its frame times, lines and zones, and the counts the product made in it', parameters: [clipId], responses: { 200: json('Clip'), 404: error } } },
      '/clips/{clip}/frames/{n}': {
        get: {
          summary: 'Frame n (from 0) of a clip, as recorded (JPEG, nothing drawn)',
          parameters: [clipId, { name: 'n', in: 'path', required: true, schema: { type: 'integer', minimum: 0 } }],
          responses: { 200: { description: 'JPEG image', content: { 'image/jpeg': {} } }, 404: error },
        },
      },
      '/clips/{clip}/audits': {
        get: { summary: 'The audits of a clip', parameters: [clipId], responses: { 200: list('Audit'), 404: error } },
        post: {
          summary: "Scores the product's counts of a clip against a person's tally of it, and keeps the audit",
          description: 'A count of the person and one of the product, on the same counter and direction, within 2 s of each other are the same crossing; the rest are misses and extra counts. Net error is (counted − truth) / truth, gross error (missed + extra) / truth.',
          parameters: [clipId],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['tally'],
                  properties: { auditor: { type: 'string', maxLength: 100 }, tally: { type: 'array', items: { $ref: '#/components/schemas/CountMark' } } },
                },
              },
            },
          },
          responses: { 201: json('Audit'), 400: error, 404: error, 409: error, 413: error },
        },
      },
      '/audits': {
        get: { summary: 'Every audit, newest first', parameters: [{ name: 'camera', in: 'query', required: false, description: 'Only this camera', schema: { type: 'string' } }], responses: { 200: list('Audit') } },
      },
      '/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3 document' } } } },
      '/ws/stream/{id}': {
        get: {
          summary: 'WebSocket: live annotated video',
          description: 'Each binary message is one JPEG frame, drawn as /cameras/{id}/frame. A client that falls behind skips frames.',
          parameters: [cameraId],
          responses: { 101: { description: 'Switching to the WebSocket protocol' }, 404: error, 426: error },
        },
      },
      '/ws/analytics': {
        get: {
          summary: 'WebSocket: live analytics',
          description: 'Text messages: {"type": "tick", at, day, storeOpen, total: {occupancy, footfallToday, footfallOutsideHoursToday, buyingUnitsToday, staffToday, peakToday}, conversionToday, cameras: [{id, occupancy, activeTracks, footfallToday, zones, lines}]} about once a second, and {"type": "event", event} for every zone, line and track event wired into the api-out node.',
          responses: { 101: { description: 'Switching to the WebSocket protocol' }, 426: error },
        },
      },
    },
    components: {
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
        CountMark: {
          type: 'object',
          required: ['counter', 'kind', 'at'],
          properties: { counter: { type: 'string', description: 'line or zone id' }, kind: { type: 'string', enum: ['in', 'out', 'entry'] }, at: { type: 'number', description: 'ms since 1970: the time of the clip frame it was counted on' } },
        },
        ClipSummary: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            cameraId: { type: 'string' },
            state: { type: 'string', enum: ['recording', 'ready', 'failed'] },
            seconds: { type: 'number' },
            requestedAt: { type: 'number' },
            startedAt: { type: 'number', nullable: true },
            endedAt: { type: 'number', nullable: true },
            frames: { type: 'integer' },
            width: { type: 'integer', nullable: true },
            height: { type: 'integer', nullable: true },
            note: { type: 'string', nullable: true, description: 'why it failed, ended early or lost its frames' },
            audits: { type: 'integer' },
          },
        },
        Clip: {
          allOf: [
            { $ref: '#/components/schemas/ClipSummary' },
            {
              type: 'object',
              properties: {
                frameTimes: { type: 'array', items: { type: 'number' } },
                geometry: { type: 'object', nullable: true, description: 'the zones (polygons) and lines (from, to) in pixels, as at the first frame' },
                counters: { type: 'array', items: { type: 'object', properties: { counter: { type: 'string' }, name: { type: 'string' }, kind: { type: 'string', enum: ['in', 'out', 'entry'] } } } },
                counts: { type: 'array', items: { $ref: '#/components/schemas/CountMark' }, description: 'what the product counted, at the frame it counted it' },
              },
            },
          ],
        },
        CounterScore: {
          type: 'object',
          properties: {
            counter: { type: 'string' },
            kind: { type: 'string', enum: ['in', 'out', 'entry'] },
            truth: { type: 'integer', description: 'what the person counted' },
            counted: { type: 'integer', description: 'what the product counted' },
            missed: { type: 'integer' },
            extra: { type: 'integer' },
            netError: { type: 'number', nullable: true },
            grossError: { type: 'number', nullable: true },
          },
        },
        Audit: {
          type: 'object',
          properties: {
            id: { type: 'integer' },
            clipId: { type: 'string' },
            cameraId: { type: 'string' },
            auditor: { type: 'string' },
            auditedAt: { type: 'number' },
            clipStartedAt: { type: 'number', nullable: true },
            clipEndedAt: { type: 'number', nullable: true },
            score: { type: 'object', properties: { counters: { type: 'array', items: { $ref: '#/components/schemas/CounterScore' } }, total: { $ref: '#/components/schemas/CounterScore' } } },
          },
        },
        Export: {
          type: 'object',
          properties: {
            timeZone: { type: 'string', description: 'the store\'s IANA time zone' },
            interval: { type: 'string', enum: ['minute', 'hour', 'day'] },
            rows: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  start: { type: 'string', format: 'date-time' },
                  end: { type: 'string', format: 'date-time' },
                  camera: { type: 'string' },
                  kind: { type: 'string', enum: ['zone', 'line'] },
                  counter: { type: 'string', description: 'the zone or line id' },
                  in: { type: 'integer' },
                  out: { type: 'integer' },
                  avgDwellSeconds: { type: 'number', nullable: true },
                  peakOccupancy: { type: 'integer', nullable: true },
                  hours: { type: 'string', enum: ['open', 'closed', 'partly'], nullable: true, description: 'with a store calendar, how the interval lies in opening hours' },
                },
              },
            },
          },
        },
        CameraHealth: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            instance: { type: 'string', nullable: true, description: 'the fleet instance the camera belongs to (fleet-aggregate); null for this Node-RED\'s own cameras' },
            state: { type: 'string', enum: ['running', 'starting', 'reconnecting', 'ended', 'failed', 'stopped', 'offline', 'unknown'], description: 'offline: a fleet camera whose worker stopped publishing' },
            fps: { type: 'number' },
            lastFrameAt: { type: 'integer', nullable: true, description: 'ms since the epoch' },
            problem: { type: 'string', nullable: true, description: 'why the camera counts against health (failed, reconnecting, no frame for N s, offline); null when it delivers fresh frames or was stopped or ended on purpose' },
            detection: { $ref: '#/components/schemas/Detection' },
          },
        },
        Health: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: ['ok', 'degraded', 'down'], description: 'ok: every camera has fresh frames and every model is ready; down: no camera meant to run delivers, or no model can load; degraded: in between' },
            problems: {
              type: 'array',
              description: 'what keeps the status from ok',
              items: { type: 'object', properties: { kind: { type: 'string', enum: ['camera', 'model'] }, id: { type: 'string' }, problem: { type: 'string' } } },
            },
            uptimeSeconds: { type: 'number' },
            cameras: { type: 'array', items: { $ref: '#/components/schemas/CameraHealth' } },
            instances: {
              type: 'array',
              description: 'the fleet instances whose cameras fleet-aggregate feeds in (empty without one)',
              items: { type: 'object', properties: { name: { type: 'string' }, cameras: { type: 'integer' }, online: { type: 'integer' } } },
            },
            detectors: { type: 'array', items: { $ref: '#/components/schemas/Detector' } },
            memory: {
              type: 'object',
              description: 'this Node-RED process\'s memory in MB: resident (rss), the JavaScript heap in use, and memory outside it (buffers, native)',
              properties: { rss: { type: 'integer' }, heapUsed: { type: 'integer' }, external: { type: 'integer' } },
            },
            eventLoopDelay: {
              type: 'object',
              nullable: true,
              description: "how late Node-RED's event loop ran over the last complete 10 s window (null in the first 10 s), and the main thread's garbage collection in it: milliseconds per second and full collections per second",
              properties: { p99Ms: { type: 'number' }, maxMs: { type: 'number' }, gcMsPerSecond: { type: 'number' }, majorGcPerSecond: { type: 'number' }, windowSeconds: { type: 'number' } },
            },
          },
        },
        Detector: {
          type: 'object',
          description: 'A yolo-model and its load over the last 10 seconds',
          properties: {
            id: { type: 'string' },
            name: { type: 'string' },
            state: { type: 'string', enum: ['fetching', 'loading', 'ready', 'restarting', 'failed'], description: 'restarting: its worker thread died and a new one is loading the model' },
            error: { type: 'string', nullable: true, description: 'why it is not ready, or what last went wrong' },
            restarts: { type: 'integer', description: 'worker threads started again after one died' },
            runtime: { type: 'string', enum: ['native', 'wasm'], nullable: true, description: "the ONNX Runtime running it, once loaded: native (onnxruntime-node) or wasm (onnxruntime-web's WebAssembly build)" },
            runtimeFallback: { type: 'string', nullable: true, description: 'why it runs on WebAssembly although native was allowed' },
            input: { type: 'string', nullable: true, description: 'the input size it runs at, widthxheight (e.g. 640x480 fitted to 4:3 cameras), once loaded' },
            precision: { type: 'string', enum: ['fp32', 'int8'], nullable: true, description: 'the number format it runs in, once loaded: fp32 as exported, or the int8 copy made on this machine' },
            inputNote: { type: 'string', nullable: true, description: "why the input and precision are what they are: fitted to the cameras' frames or quantised, and checked against the float model; or kept and why" },
            busy: { type: 'number', description: 'fraction of time the model was running, 0-1' },
            msPerImage: { type: 'number', nullable: true, description: 'mean time per image from handing it to a copy of the model to its answer' },
            runMsPerImage: { type: 'number', nullable: true, description: 'mean time per image the network itself ran, in its worker thread; the rest of msPerImage is handing images over and back' },
            ceilingFps: { type: 'number', nullable: true, description: 'images per second it could detect running flat out: 1000 / msPerImage' },
            fps: { type: 'number', description: 'images detected per second' },
            cameras: { type: 'integer' },
            detectFps: { type: 'number', description: "the mean detection rate of its cameras" },
            spareCameras: { type: 'integer', nullable: true, description: 'more cameras it could take at detectFps with the time it has left' },
          },
        },
        Detection: {
          type: 'object',
          nullable: true,
          description: "How the camera's frames fare in detection (null when no yolo-detect node has seen it)",
          properties: {
            model: { type: 'string', description: 'id of the yolo-model node' },
            fps: { type: 'number', description: 'frames detected per second' },
            detectFps: { type: 'number', nullable: true, description: 'the rate frames are chosen for detection: the lower of the detection rate setting and the source rate' },
            sourceFps: { type: 'number', nullable: true },
            share: { type: 'number', description: "fraction of the model's busy time spent on this camera" },
            processed: { type: 'integer', description: 'frames detected since the yolo-detect node started' },
            frames: { type: 'integer', description: 'frames offered to detection' },
            detect: { type: 'integer', description: 'frames chosen for detection' },
            rate: { type: 'integer', description: 'frames skipped because the camera is faster than the detection rate' },
            still: { type: 'integer', description: 'frames skipped by motion gating: detector calls saved' },
            superseded: { type: 'integer', description: 'frames dropped because a newer one replaced them while the model was busy' },
            stale: { type: 'integer', description: 'frames the camera had discarded before their turn' },
            motionGating: { type: 'boolean' },
          },
        },
        Camera: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            instance: { type: 'string', nullable: true, description: 'the fleet instance the camera belongs to (fleet-aggregate); null for this Node-RED\'s own cameras' },
            name: { type: 'string' },
            source: { type: 'string', nullable: true },
            state: { type: 'string' },
            width: { type: 'integer', nullable: true },
            height: { type: 'integer', nullable: true },
            fps: { type: 'number', description: 'frames per second delivered by the camera' },
            framesProcessed: { type: 'integer', description: 'frames that went through the pipeline to this API' },
            activeTracks: { type: 'integer' },
            occupancy: { type: 'integer', nullable: true },
            zones: { type: 'array', items: { type: 'string' } },
            lastFrameAt: { type: 'integer', nullable: true },
            detection: { $ref: '#/components/schemas/Detection' },
          },
        },
        Zone: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            name: { type: 'string' },
            currentCount: { type: 'integer' },
            totalEntries: { type: 'integer' },
            totalExits: { type: 'integer' },
            avgDwellSeconds: { type: 'number', nullable: true },
            peakCount: { type: 'integer' },
            peakAt: { type: 'integer', nullable: true },
          },
        },
        Line: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, in: { type: 'integer' }, out: { type: 'integer' } } },
        CameraDetail: {
          allOf: [
            { $ref: '#/components/schemas/Camera' },
            { type: 'object', properties: { zoneStats: { type: 'array', items: { $ref: '#/components/schemas/Zone' } }, lines: { type: 'array', items: { $ref: '#/components/schemas/Line' } } } },
          ],
        },
        CameraZones: {
          type: 'object',
          properties: { cameraId: { type: 'string' }, zones: { type: 'array', items: { $ref: '#/components/schemas/Zone' } }, lines: { type: 'array', items: { $ref: '#/components/schemas/Line' } } },
        },
        Period: {
          type: 'object',
          properties: {
            occupancy: { type: 'integer' },
            footfallToday: { type: 'integer', description: 'footfall in opening hours, with a store calendar' },
            footfallOutsideHoursToday: { type: 'integer', description: 'footfall while the store was closed (0 without a store calendar)' },
            buyingUnitsToday: { type: 'integer', nullable: true, description: 'buying units among the footfall today; null when zone-analytics keeps none' },
            staffToday: { type: 'integer', description: 'people recognised as staff today (staff zones, staff-only lines), left out of footfall' },
            peakToday: { type: 'object', nullable: true, properties: { count: { type: 'integer' }, at: { type: 'integer' } } },
            footfallByHour: { type: 'array', items: { type: 'object', properties: { hour: { type: 'string' }, footfall: { type: 'integer' } } } },
          },
        },
        Stats: {
          type: 'object',
          properties: {
            day: { type: 'string', nullable: true, description: "the store's local day, YYYY-MM-DD" },
            storeOpen: { type: 'boolean', nullable: true, description: 'whether the store is open now by its calendar; null without a store calendar' },
            total: { $ref: '#/components/schemas/Period' },
            cameras: { type: 'object', additionalProperties: { $ref: '#/components/schemas/Period' } },
            conversionToday: { allOf: [{ $ref: '#/components/schemas/Conversion' }], nullable: true, description: 'null unless a pos-conversion node records sales' },
          },
        },
        Conversion: {
          type: 'object',
          properties: {
            footfall: { type: 'integer', description: 'visitors (entries counted as footfall)' },
            transactions: { type: 'integer' },
            conversionRate: { type: 'number', nullable: true, description: 'transactions / footfall' },
            revenue: { type: 'number', nullable: true, description: 'sum of the amounts given' },
            averageBasket: { type: 'number', nullable: true, description: 'revenue / transactions with an amount' },
            basketPerVisitor: { type: 'number', nullable: true, description: 'revenue / footfall' },
          },
        },
        ConversionReport: {
          type: 'object',
          properties: {
            day: { type: 'string' },
            timeZone: { type: 'string' },
            footfallCamera: { type: 'string', description: 'camera whose footfall counts visitors; * for all cameras' },
            footfallCounted: { type: 'boolean', description: 'false when no zone-analytics node counts footfall into this database' },
            total: { $ref: '#/components/schemas/Conversion' },
            hours: { type: 'array', items: { allOf: [{ $ref: '#/components/schemas/Conversion' }, { type: 'object', properties: { hour: { type: 'string' }, start: { type: 'integer' } } }] } },
            days: { type: 'array', items: { allOf: [{ $ref: '#/components/schemas/Conversion' }, { type: 'object', properties: { day: { type: 'string' } } }] } },
          },
        },
      },
    },
  };
}
