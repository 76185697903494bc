/*
 * Dashboard 2.0 widgets of @retail-vision/node-red-dashboard-2-retail-analytics. Dashboard 2.0 imports this file
 * once and finds each widget's component under globalThis[<widget type>][<component>] (package.json,
 * "node-red-dashboard-2"). Vue is Dashboard 2.0's own (globalThis.Vue); the components are written with render
 * functions, so the file runs as it is, with no build step and no other dependency.
 */
(function (root) {
  'use strict';
  const { h } = root.Vue;

  /** api-out's base URL path for this widget: Node-RED's httpNodeRoot, then the widget's API path. */
  function apiBase(vm) {
    const nodeRoot = vm.$store?.state?.setup?.setup?.RED?.httpNodeRoot ?? '/';
    return nodeRoot.replace(/\/+$/, '') + vm.props.api;
  }

  const cameraPath = (vm, suffix) => `${apiBase(vm)}/cameras/${encodeURIComponent(vm.props.camera)}${suffix}`;

  const widgetProps = {
    id: { type: String, required: true },
    props: { type: Object, default: () => ({}) },
    state: { type: Object, default: () => ({}) },
  };

  const notice = (text) => (text ? h('div', { class: 'retail-notice', style: NOTICE_STYLE }, text) : null);
  const NOTICE_STYLE = 'position:absolute;left:8px;top:8px;padding:2px 8px;border-radius:4px;background:rgba(0,0,0,.6);color:#fff;font-size:12px';
  /** Dashboard 2.0 gives a widget a fixed number of rows: pictures fit them, letterboxed. */
  const PICTURE_STYLE = 'position:relative;width:100%;height:100%;min-height:0;line-height:0';
  const FIT_STYLE = 'width:100%;height:100%;object-fit:contain;background:#222';

  /**
   * The annotated video of a camera, frame by frame from api-out's WebSocket. A frame arriving while the previous
   * one is still being decoded replaces it, so a slow screen shows the newest picture instead of falling behind.
   */
  const RetailVideo = {
    name: 'RetailVideo',
    props: widgetProps,
    data: () => ({ message: 'connecting…' }),
    mounted() {
      this.delay = 1000;
      this.open();
    },
    unmounted() {
      this.closed = true;
      clearTimeout(this.retry);
      if (this.socket) this.socket.close();
    },
    methods: {
      open() {
        if (this.closed) return;
        const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
        const socket = new WebSocket(`${scheme}://${location.host}${apiBase(this)}/ws/stream/${encodeURIComponent(this.props.camera)}`);
        socket.binaryType = 'blob';
        socket.onopen = () => {
          this.delay = 1000;
          this.message = 'waiting for frames…';
        };
        socket.onmessage = (event) => this.show(event.data);
        socket.onclose = () => {
          if (this.closed) return;
          this.message = `reconnecting in ${this.delay / 1000} s…`;
          this.retry = setTimeout(() => this.open(), this.delay);
          this.delay = Math.min(this.delay * 2, 10000);
        };
        this.socket = socket;
      },
      async show(blob) {
        if (!(blob instanceof Blob)) return;
        if (this.decoding) {
          this.waiting = blob;
          return;
        }
        this.decoding = true;
        try {
          const bitmap = await createImageBitmap(blob);
          const canvas = this.$refs.canvas;
          if (canvas) {
            if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
              canvas.width = bitmap.width;
              canvas.height = bitmap.height;
            }
            canvas.getContext('2d').drawImage(bitmap, 0, 0);
            canvas.dataset.frames = String(Number(canvas.dataset.frames || 0) + 1);
          }
          bitmap.close();
          if (this.message) this.message = '';
        } catch {
          // A frame that does not decode is skipped; the next one comes within a frame interval.
        } finally {
          this.decoding = false;
        }
        const next = this.waiting;
        this.waiting = null;
        if (next) this.show(next);
      },
    },
    render() {
      return h('div', { class: 'retail-video', style: PICTURE_STYLE }, [
        h('canvas', { ref: 'canvas', style: FIT_STYLE, 'data-camera': this.props.camera }),
        notice(this.message),
      ]);
    },
  };

  /** A camera's heatmap, reloaded every refreshSeconds. */
  const RetailHeatmap = {
    name: 'RetailHeatmap',
    props: widgetProps,
    data: () => ({ src: '', message: 'loading…' }),
    mounted() {
      this.reload();
      this.timer = setInterval(() => this.reload(), (this.props.refreshSeconds || 10) * 1000);
    },
    unmounted() {
      clearInterval(this.timer);
    },
    methods: {
      async reload() {
        try {
          const response = await fetch(`${cameraPath(this, '/heatmap')}?t=${Date.now()}`, { cache: 'no-store' });
          if (!response.ok) {
            this.message = response.status === 404 ? 'no heatmap yet' : ((await response.json().catch(() => null))?.error ?? `heatmap: HTTP ${response.status}`);
            return;
          }
          const url = URL.createObjectURL(await response.blob());
          if (this.src) URL.revokeObjectURL(this.src);
          this.src = url;
          this.message = '';
        } catch {
          this.message = 'heatmap unreachable, retrying…';
        }
      },
    },
    render() {
      return h('div', { class: 'retail-heatmap', style: PICTURE_STYLE }, [
        this.src ? h('img', { src: this.src, alt: `heatmap of ${this.props.camera}`, style: FIT_STYLE }) : h('div', { style: FIT_STYLE }),
        notice(this.message),
      ]);
    },
  };

  /** Corners closer than this (in screen pixels) to the first corner close a zone. */
  const CLOSE_DISTANCE_PX = 12;
  const round = (value) => Math.round(value * 10000) / 10000;
  const isNormalised = (points) => points.every(([x, y]) => x >= 0 && x <= 1 && y >= 0 && y <= 1);

  /**
   * The zone and line editor. Shapes are edited in normalised coordinates over the camera's picture (reloaded every
   * second); a shape that is not touched goes back exactly as it came, so zone-analytics sees it unchanged.
   */
  const RetailZones = {
    name: 'RetailZones',
    inject: ['$socket'],
    props: widgetProps,
    data: () => ({
      shapes: [],
      selected: -1,
      mode: 'select',
      draft: [],
      message: 'loading the layout…',
      width: 0,
      height: 0,
      frameUrl: '',
      drag: null,
    }),
    mounted() {
      this.reloadFrame();
      this.frameTimer = setInterval(() => this.reloadFrame(), 1000);
      this.load();
    },
    unmounted() {
      clearInterval(this.frameTimer);
      if (this.frameUrl) URL.revokeObjectURL(this.frameUrl);
    },
    computed: {
      current() {
        return this.shapes[this.selected] ?? null;
      },
    },
    methods: {
      async reloadFrame() {
        try {
          const response = await fetch(`${cameraPath(this, '/frame')}?quality=70&t=${Date.now()}`, { cache: 'no-store' });
          if (!response.ok) return;
          const blob = await response.blob();
          const bitmap = await createImageBitmap(blob);
          const first = this.width === 0;
          this.width = bitmap.width;
          this.height = bitmap.height;
          bitmap.close();
          if (this.frameUrl) URL.revokeObjectURL(this.frameUrl);
          this.frameUrl = URL.createObjectURL(blob);
          if (first && this.layout) this.useLayout(this.layout);
        } catch {
          // The picture comes back with the camera; the shapes stay editable meanwhile.
        }
      },
      request(event, ...args) {
        return new Promise((resolve) => this.$socket.emit(event, this.id, ...args, resolve));
      },
      async load() {
        const answer = await this.request('ui-retail-zones:load');
        if (answer.error) {
          this.message = answer.error;
          return;
        }
        this.layout = answer.layout ?? {};
        if (this.width > 0) this.useLayout(this.layout);
        else this.message = 'waiting for the camera\'s picture…';
      },
      /** Pixel layouts need the frame size to be shown: they are read once the picture is there. */
      useLayout(layout) {
        const toUnit = (points) => (isNormalised(points) ? points : points.map(([x, y]) => [x / this.width, y / this.height]));
        this.shapes = [
          ...(layout.zones ?? []).map((config) => ({ kind: 'zone', config, points: toUnit(config.polygon), changed: false })),
          ...(layout.lines ?? []).map((config) => ({ kind: 'line', config, points: toUnit([config.from, config.to]), changed: false })),
        ];
        this.selected = -1;
        this.draft = [];
        this.mode = 'select';
        this.message = `${layout.zones?.length ?? 0} zones, ${layout.lines?.length ?? 0} lines`;
      },
      layoutToSend() {
        const zones = [];
        const lines = [];
        for (const shape of this.shapes) {
          const points = shape.points.map(([x, y]) => [round(x), round(y)]);
          if (shape.kind === 'zone') zones.push(shape.changed ? { ...shape.config, polygon: points } : shape.config);
          else lines.push(shape.changed ? { ...shape.config, from: points[0], to: points[1] } : shape.config);
        }
        return { zones, lines };
      },
      async apply() {
        this.message = 'applying…';
        const answer = await this.request('ui-retail-zones:apply', this.layoutToSend());
        if (answer.error) {
          this.message = answer.error;
          return;
        }
        await this.load();
        this.message = `applied${answer.ended ? `: ${answer.ended} visits under way ended` : ''}`;
      },
      newId(kind) {
        const taken = new Set(this.shapes.map((s) => s.config.id));
        let n = 1;
        while (taken.has(`${kind}-${n}`)) n++;
        return `${kind}-${n}`;
      },
      start(mode) {
        this.mode = mode;
        this.draft = [];
        this.selected = -1;
        this.message = mode === 'zone' ? 'click the corners; click the first one (or Finish) to close' : 'click the two ends of the line';
      },
      finish() {
        if (this.mode === 'zone' && this.draft.length >= 3) {
          const id = this.newId('zone');
          this.shapes.push({ kind: 'zone', config: { id, name: `Zone ${id.slice(5)}`, polygon: this.draft }, points: this.draft, changed: true });
        } else if (this.mode === 'line' && this.draft.length === 2) {
          const id = this.newId('line');
          this.shapes.push({ kind: 'line', config: { id, name: `Line ${id.slice(5)}`, from: this.draft[0], to: this.draft[1] }, points: this.draft, changed: true });
        } else {
          return;
        }
        this.selected = this.shapes.length - 1;
        this.mode = 'select';
        this.draft = [];
        this.message = 'not applied yet';
      },
      remove() {
        if (this.selected < 0) return;
        this.shapes.splice(this.selected, 1);
        this.selected = -1;
        this.message = 'not applied yet';
      },
      rename(event) {
        if (!this.current) return;
        this.current.config = { ...this.current.config, name: event.target.value };
        this.message = 'not applied yet';
      },
      /** Where the pointer is on the picture, 0..1 both ways; and how many screen pixels one frame pixel takes. */
      pointAt(event) {
        const svg = this.$refs.surface;
        const matrix = svg.getScreenCTM();
        const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
        return [Math.min(1, Math.max(0, point.x / this.width)), Math.min(1, Math.max(0, point.y / this.height))];
      },
      screenScale() {
        return this.$refs.surface.getScreenCTM().a;
      },
      surfaceClick(event) {
        if (this.mode === 'select' || this.drag) return;
        const point = this.pointAt(event);
        if (this.mode === 'zone' && this.draft.length >= 3) {
          const [x0, y0] = this.draft[0];
          if (Math.hypot((point[0] - x0) * this.width, (point[1] - y0) * this.height) * this.screenScale() <= CLOSE_DISTANCE_PX) {
            this.finish();
            return;
          }
        }
        this.draft = [...this.draft, point];
        if (this.mode === 'line' && this.draft.length === 2) this.finish();
      },
      grab(index, corner, event) {
        if (this.mode !== 'select') return;
        event.stopPropagation();
        this.selected = index;
        if (corner >= 0) {
          this.drag = { index, corner };
          event.target.setPointerCapture?.(event.pointerId);
        }
      },
      move(event) {
        if (!this.drag) return;
        const shape = this.shapes[this.drag.index];
        const points = shape.points.slice();
        points[this.drag.corner] = this.pointAt(event);
        shape.points = points;
        shape.changed = true;
        this.message = 'not applied yet';
      },
      release() {
        this.drag = null;
      },
    },
    render() {
      const w = this.width || 1;
      const hgt = this.height || 1;
      const px = ([x, y]) => `${x * w},${y * hgt}`;
      const stroke = Math.max(2, w / 320);
      const shapes = this.shapes.map((shape, index) => {
        const on = index === this.selected;
        const colour = shape.kind === 'zone' ? '#00d2d3' : '#feca57';
        const outline = shape.kind === 'zone'
          ? h('polygon', { points: shape.points.map(px).join(' '), fill: on ? 'rgba(0,210,211,.3)' : 'rgba(0,210,211,.12)', stroke: colour, 'stroke-width': stroke })
          : h('polyline', { points: shape.points.map(px).join(' '), fill: 'none', stroke: colour, 'stroke-width': stroke * 1.5, 'marker-end': 'url(#retail-arrow)' });
        const corners = on ? shape.points.map((p, corner) => h('circle', {
          cx: p[0] * w, cy: p[1] * hgt, r: stroke * 3, fill: '#fff', stroke: colour, style: 'cursor:move',
          onPointerdown: (event) => this.grab(index, corner, event),
        })) : [];
        const [lx, ly] = shape.points[0];
        return h('g', { class: `retail-shape retail-${shape.kind}`, 'data-id': shape.config.id, style: 'cursor:pointer', onPointerdown: (event) => this.grab(index, -1, event) }, [
          outline,
          h('text', { x: lx * w + stroke * 2, y: ly * hgt - stroke * 2, fill: colour, 'font-size': stroke * 7, 'paint-order': 'stroke', stroke: '#000', 'stroke-width': stroke }, shape.config.name ?? shape.config.id),
          ...corners,
        ]);
      });
      const draft = this.draft.length > 0
        ? h('polyline', { class: 'retail-draft', points: this.draft.map(px).join(' '), fill: 'none', stroke: '#ff6b6b', 'stroke-width': stroke, 'stroke-dasharray': `${stroke * 3}` })
        : null;
      const button = (label, onClick, disabled = false) => h('button', { type: 'button', class: `retail-${label.toLowerCase()}`, disabled, onClick, style: 'margin:0 4px 4px 0;padding:2px 10px' }, label);
      return h('div', { class: 'retail-zones', style: 'display:flex;flex-direction:column;height:100%' }, [
        h('div', { style: 'display:flex;flex-wrap:wrap;align-items:center' }, [
          button('Zone', () => this.start('zone')),
          button('Line', () => this.start('line')),
          button('Finish', () => this.finish(), this.mode !== 'zone' || this.draft.length < 3),
          button('Delete', () => this.remove(), this.selected < 0),
          button('Apply', () => this.apply()),
          button('Revert', () => this.load()),
          this.current ? h('input', { class: 'retail-name', value: this.current.config.name ?? this.current.config.id, onChange: this.rename, style: 'margin:0 4px 4px 0;width:10em', 'aria-label': 'name' }) : null,
        ]),
        h('div', { class: 'retail-message', style: 'font-size:12px;min-height:1.4em' }, this.message),
        h('div', { style: `${PICTURE_STYLE};flex:1` }, [
          h('svg', {
            ref: 'surface',
            class: 'retail-surface',
            viewBox: `0 0 ${w} ${hgt}`,
            preserveAspectRatio: 'xMidYMid meet',
            style: `width:100%;height:100%;background:#222;cursor:${this.mode === 'select' ? 'default' : 'crosshair'};touch-action:none`,
            onClick: this.surfaceClick,
            onPointermove: this.move,
            onPointerup: this.release,
          }, [
            h('defs', [h('marker', { id: 'retail-arrow', viewBox: '0 0 10 10', refX: 8, refY: 5, markerWidth: 4, markerHeight: 4, orient: 'auto' }, [h('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#feca57' })])]),
            this.frameUrl ? h('image', { href: this.frameUrl, x: 0, y: 0, width: w, height: hgt }) : null,
            ...shapes,
            draft,
          ]),
        ]),
      ]);
    },
  };

  root['ui-retail-video'] = { RetailVideo };
  root['ui-retail-heatmap'] = { RetailHeatmap };
  root['ui-retail-zones'] = { RetailZones };
})(globalThis);
