/* SPDX-License-Identifier: BSD-2-Clause */
/* The html report of a trace: one self-contained page, the json summary and series drawn by an inline script. */
#include "trace/report_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/common.h"

/* The HTML scatter of pauses keeps at most this many points per process (the longest ones win):
 * a browser draws 20k SVG circles quickly, 4M not at all. */
#define HTML_MAX_EVENTS 20000
#define HTML_MAX_SAMPLES 5000

/* ------------------------------------------------------------------------------------------ */
/* html: one self-contained file; the data as JSON, drawn into inline SVG by a small script      */

static const char html_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
	"script-src 'unsafe-inline'; img-src data:\">\n"
	"<title>pyleak report</title>\n<style>\n"
	"body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}\n"
	"h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 6px;border-bottom:1px solid #ccc}\n"
	"h3{font-size:14px;margin:12px 0 4px}\n"
	"table{border-collapse:collapse;margin:4px 0}td,th{padding:2px 8px;border:1px solid #ddd;text-align:left;"
	"font-size:13px}th{background:#f4f4f4}\n"
	".meta{color:#555}.warn{color:#a40}.charts{display:flex;flex-wrap:wrap;gap:12px}\n"
	".chart{border:1px solid #ddd;background:#fcfcfc}.chart text{font-size:11px;fill:#333}\n"
	".none{color:#777;font-style:italic}\n"
	".flame{margin:4px 0 12px}.flame svg{border:1px solid #ddd;background:#fcfcfc}.flame rect{stroke:#fff;cursor:pointer}\n"
	".flame text{font-size:11px;fill:#222;pointer-events:none}.flame .hint{color:#555;font-size:12px}\n"
	"</style></head><body>\n<h1>pyleak report</h1>\n<div id=\"meta\" class=\"meta\"></div>\n"
	"<div id=\"families\"></div>\n<div id=\"procs\"></div>\n";

static const char html_script[] =
	"<script>\n"
	"'use strict';\n"
	"(function(){\n"
	"var D=JSON.parse(document.getElementById('pyleak-data').textContent);\n"
	"var S=D.summary, NS='http://www.w3.org/2000/svg';\n"
	"var COL=['#1f77b4','#ff7f0e','#d62728','#2ca02c','#9467bd','#8c564b','#e377c2','#7f7f7f','#bcbd22','#17becf'];\n"
	/* vis(): the names are the target's; shown with esc_text's visible escapes (util/escape.h), so no
	 * control or bidi override reorders or hides text in the page (invalid UTF-8 arrives as U+FFFD) */
	"function vis(s){return String(s).replace(/[\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028-\\u202e\\u2066-\\u2069\\\\]/g,function(c){var n=c.charCodeAt(0);if(c==='\\\\')return '\\\\\\\\';if(n===10)return '\\\\n';if(n===13)return '\\\\r';if(n===9)return '\\\\t';return n<128?'\\\\x'+('0'+n.toString(16)).slice(-2):'\\\\u'+('000'+n.toString(16)).slice(-4);});}\n"
	"function el(tag,attrs,text){var e=document.createElement(tag);for(var k in attrs)e.setAttribute(k,attrs[k]);"
	"if(text!==undefined)e.textContent=vis(text);return e;}\n"
	"function sv(tag,attrs){var e=document.createElementNS(NS,tag);for(var k in attrs)e.setAttribute(k,attrs[k]);return e;}\n"
	"function fmt(v){if(v===null||v===undefined)return '-';var a=Math.abs(v);"
	"if(a>=1e9)return (v/1e9).toFixed(2)+'G';if(a>=1e6)return (v/1e6).toFixed(2)+'M';"
	"if(a>=1e4)return (v/1e3).toFixed(1)+'k';if(a>=100||v===Math.round(v))return String(Math.round(v));return v.toPrecision(3);}\n"
	"function bytes(v){if(v===null||v===undefined)return '-';var u=['B','K','M','G','T'],i=0;"
	"while(Math.abs(v)>=1024&&i<4){v/=1024;i++;}return v.toFixed(i?1:0)+u[i];}\n"
	"function us(v){if(v===null||v===undefined)return '-';if(v>=1e6)return (v/1e6).toFixed(2)+'s';"
	"if(v>=1e3)return (v/1e3).toFixed(1)+'ms';return v.toFixed(0)+'us';}\n"
	"function table(head,rows){var t=el('table'),tr=el('tr');head.forEach(function(h){tr.appendChild(el('th',{},h));});"
	"t.appendChild(tr);rows.forEach(function(r){var tr=el('tr');r.forEach(function(c){tr.appendChild(el('td',{},String(c)));});"
	"t.appendChild(tr);});return t;}\n"
	"function none(){return el('div',{'class':'none'},'none recorded');}\n"
	"function chart(title,series,o){o=o||{};var W=540,H=240,L=64,R=12,T=24,B=32;\n"
	" var svg=sv('svg',{width:W,height:H,'class':'chart',viewBox:'0 0 '+W+' '+H});\n"
	" var tt=sv('text',{x:L,y:15,'font-weight':'bold'});tt.textContent=title;svg.appendChild(tt);\n"
	" var x0=o.x0!==undefined?o.x0:Infinity,x1=o.x1!==undefined?o.x1:-Infinity,y0=o.zero?0:Infinity,y1=-Infinity,n=0;\n"
	" series.forEach(function(s){s.pts.forEach(function(p){if(p[1]===null)return;n++;x0=Math.min(x0,p[0]);x1=Math.max(x1,p[0]);"
	"y0=Math.min(y0,p[1]);y1=Math.max(y1,p[1]);});});\n"
	" if(!n){var t=sv('text',{x:W/2,y:H/2,'text-anchor':'middle'});t.textContent='none recorded';svg.appendChild(t);return svg;}\n"
	" if(x1<=x0)x1=x0+1;if(y1<=y0)y1=y0+1;\n"
	" function X(v){return L+(v-x0)/(x1-x0)*(W-L-R);}function Y(v){return H-B-(v-y0)/(y1-y0)*(H-T-B);}\n"
	" svg.appendChild(sv('rect',{x:L,y:T,width:W-L-R,height:H-T-B,fill:'#fff',stroke:'#bbb'}));\n"
	" for(var i=0;i<=4;i++){var yv=y0+(y1-y0)*i/4,xv=x0+(x1-x0)*i/4;\n"
	"  svg.appendChild(sv('line',{x1:L,x2:W-R,y1:Y(yv),y2:Y(yv),stroke:'#eee'}));\n"
	"  var ty=sv('text',{x:L-4,y:Y(yv)+4,'text-anchor':'end'});ty.textContent=(o.yfmt||fmt)(yv);svg.appendChild(ty);\n"
	"  var tx=sv('text',{x:X(xv),y:H-B+14,'text-anchor':'middle'});tx.textContent=xv.toFixed(x1-x0<10?1:0)+'s';svg.appendChild(tx);}\n"
	" series.forEach(function(s,k){var c=s.color||COL[k%COL.length];\n"
	"  if(o.scatter){s.pts.forEach(function(p){svg.appendChild(sv('circle',{cx:X(p[0]).toFixed(1),cy:Y(p[1]).toFixed(1),r:2,fill:c,'fill-opacity':0.6}));});}\n"
	"  else{var d=s.pts.filter(function(p){return p[1]!==null;}).map(function(p){return X(p[0]).toFixed(1)+','+Y(p[1]).toFixed(1);}).join(' ');\n"
	"   svg.appendChild(sv('polyline',{points:d,fill:'none',stroke:c,'stroke-width':1.5}));}\n"
	"  var lg=sv('text',{x:L+8+k*110,y:H-4,fill:c});lg.textContent='\\u25A0 '+vis(s.name);svg.appendChild(lg);});\n"
	" return svg;}\n"
	/* An icicle chart of collapsed stacks (root on top), drawn here rather than by a library: the page
 * loads nothing from the network.  Click a frame to zoom to it, click the top bar to zoom out.
 * `#fg-flame=TITLE&fg-click=TEXT` in the page address clicks the first frame containing TEXT in
 * the flame graph whose title starts with TITLE (for tests). */
	"function flame(title,rows){var W=960,RH=17,root={name:'all',value:0,kids:[],depth:0,parent:null},depth=0;\n"
	" rows.forEach(function(r){if(!(r.value>0))return;var fr=r.stack.split(';');if(r.type)fr.unshift(r.type);var n=root;n.value+=r.value;\n"
	"  fr.forEach(function(f){var c=null;n.kids.forEach(function(k){if(k.name===f)c=k;});\n"
	"   if(!c){c={name:f,value:0,kids:[],depth:n.depth+1,parent:n};n.kids.push(c);depth=Math.max(depth,c.depth);}c.value+=r.value;n=c;});});\n"
	" var box=el('div',{'class':'flame'});box.appendChild(el('h3',{},title));\n"
	" if(!root.value){box.appendChild(none());return box;}\n"
	" box.appendChild(el('div',{'class':'hint'},'click a frame to zoom, the top bar to zoom out'));\n"
	" var svg=sv('svg',{width:W,height:(depth+1)*RH+2,'class':'flame-svg','data-title':title,'data-zoom':'all'});box.appendChild(svg);\n"
	" function color(n){var h=0;for(var i=0;i<n.name.length;i++)h=(h*31+n.name.charCodeAt(i))>>>0;return 'hsl('+(h%50+10)+',75%,'+(60+h%20)+'%)';}\n"
	" function bar(n,x,w,focus){var g=sv('g',{});var r=sv('rect',{x:x.toFixed(1),y:n.depth*RH,width:Math.max(w,0.5).toFixed(1),height:RH-1,fill:n===focus?'#f0c060':color(n),'class':'fg','data-name':n.name,'data-value':n.value});\n"
	"  var tt=sv('title',{});tt.textContent=vis(n.name)+' ('+n.value+')';r.appendChild(tt);g.appendChild(r);\n"
	"  if(w>50){var t=sv('text',{x:(x+3).toFixed(1),y:n.depth*RH+12});var c=Math.floor((w-6)/6.5);var nm=vis(n.name);t.textContent=nm.length>c?nm.slice(0,Math.max(c-1,1))+'\\u2026':nm;g.appendChild(t);}\n"
	"  r.addEventListener('click',function(){draw(n===focus&&n.parent?n.parent:n);});svg.appendChild(g);}\n"
	" function kids(n,x,w){var cx=x;n.kids.forEach(function(k){var kw=w*k.value/n.value;bar(k,cx,kw,null);kids(k,cx,kw);cx+=kw;});}\n"
	" function draw(focus){while(svg.firstChild)svg.removeChild(svg.firstChild);svg.setAttribute('data-zoom',focus.name);\n"
	"  for(var a=focus;a;a=a.parent)bar(a,0,W,focus);kids(focus,0,W);}\n"
	" draw(root);return box;}\n"
	"function fgClick(){var m=/[#&]fg-click=([^&]*)/.exec(location.hash),f=/[#&]fg-flame=([^&]*)/.exec(location.hash);if(!m)return;\n"
	" var want=decodeURIComponent(m[1]),which=f?decodeURIComponent(f[1]):'';\n"
	" var svgs=document.querySelectorAll('svg.flame-svg');for(var j=0;j<svgs.length;j++){if(svgs[j].getAttribute('data-title').indexOf(which)!==0)continue;\n"
	"  var rs=svgs[j].querySelectorAll('rect.fg');for(var i=0;i<rs.length;i++){var n=rs[i].getAttribute('data-name');\n"
	"   if(n.indexOf(want)>=0&&n!=='all'){rs[i].dispatchEvent(new MouseEvent('click',{bubbles:true}));return;}}}}\n"
	/* Stacked areas: each part drawn from the sum of the ones below it up to that plus itself. */
	"function stacked(title,rows,names,o){var W=540,H=240,L=64,R=12,T=24,B=32,n=rows.length;\n"
	" var svg=sv('svg',{width:W,height:H,'class':'chart',viewBox:'0 0 '+W+' '+H});\n"
	" var tt=sv('text',{x:L,y:15,'font-weight':'bold'});tt.textContent=title;svg.appendChild(tt);\n"
	" if(!n){var t=sv('text',{x:W/2,y:H/2,'text-anchor':'middle'});t.textContent='none recorded';svg.appendChild(t);return svg;}\n"
	" var x0=o.x0!==undefined?Math.min(o.x0,rows[0][0]):rows[0][0],x1=o.x1!==undefined?Math.max(o.x1,rows[n-1][0]):rows[n-1][0],y1=1;\n"
	" rows.forEach(function(r){var s=0;for(var k=1;k<r.length;k++)s+=r[k];y1=Math.max(y1,s);});if(x1<=x0)x1=x0+1;\n"
	" function X(v){return L+(v-x0)/(x1-x0)*(W-L-R);}function Y(v){return H-B-v/y1*(H-T-B);}\n"
	" svg.appendChild(sv('rect',{x:L,y:T,width:W-L-R,height:H-T-B,fill:'#fff',stroke:'#bbb'}));\n"
	" for(var i=0;i<=4;i++){var yv=y1*i/4,xv=x0+(x1-x0)*i/4;\n"
	"  var ty=sv('text',{x:L-4,y:Y(yv)+4,'text-anchor':'end'});ty.textContent=bytes(yv);svg.appendChild(ty);\n"
	"  var tx=sv('text',{x:X(xv),y:H-B+14,'text-anchor':'middle'});tx.textContent=xv.toFixed(x1-x0<10?1:0)+'s';svg.appendChild(tx);}\n"
	" var base=rows.map(function(){return 0;});\n"
	" names.forEach(function(nm,k){var c=COL[k%COL.length],up=[],dn=[];\n"
	"  rows.forEach(function(r,j){var b=base[j],t=b+r[k+1];up.push(X(r[0]).toFixed(1)+','+Y(t).toFixed(1));dn.unshift(X(r[0]).toFixed(1)+','+Y(b).toFixed(1));base[j]=t;});\n"
	"  if(n===1){var r=rows[0];up.push((X(r[0])+2).toFixed(1)+','+up[0].split(',')[1]);dn.unshift((X(r[0])+2).toFixed(1)+','+dn[0].split(',')[1]);}\n"
	"  svg.appendChild(sv('polygon',{points:up.concat(dn).join(' '),fill:c,'fill-opacity':0.7,stroke:c,'class':'part'}));\n"
	"  var lg=sv('text',{x:L+4+k*78,y:H-4,fill:c});lg.textContent='\\u25A0 '+nm;svg.appendChild(lg);});\n"
	" return svg;}\n"
	"var m=S.trace,md=document.getElementById('meta');\n"
	"md.appendChild(el('div',{},'file '+m.file+' \\u2014 host '+m.host+', kernel '+m.kernel+', pyleak '+m.pyleak_version+', schema '+m.schema_version));\n"
	"md.appendChild(el('div',{},'command: '+m.command_line));\n"
	"md.appendChild(el('div',{},'recorded '+m.duration_s.toFixed(1)+' s at '+m.interval_s+' s intervals, '+S.processes.length+' processes'));\n"
	"if(!m.complete)md.appendChild(el('div',{'class':'warn'},'the recording did not end cleanly: the last interval may be missing'));\n"
	"if(m.dropped_gc_events)md.appendChild(el('div',{'class':'warn'},m.dropped_gc_events+' gc events dropped: the trace reached its size limit'));\n"
	"if(m.ringbuf_dropped_events)md.appendChild(el('div',{'class':'warn'},m.ringbuf_dropped_events+' gc events lost in the kernel ring buffer'));\n"
	"var root=document.getElementById('procs');\n"
	"if(!S.processes.length)root.appendChild(none());\n"
	"S.processes.forEach(function(p,i){var d=D.series[i],t0=D.t0;\n"
	" root.appendChild(el('h2',{},'process '+p.pid+' ('+p.comm+')'+(p.exited?' exited':'')));\n"
	" root.appendChild(table(['cmdline','python','gc source','exe','samples','gc events'],[[p.cmdline,p.python||'?',p.gc_source||'?',p.exe,p.samples,p.gc_events]]));\n"
	" if(p.gc){root.appendChild(el('h3',{},'GC totals (cumulative, = gc.get_stats())'));\n"
	"  root.appendChild(table(['generation','collections','recorded','collected','uncollectable','events','p50','p99','max'],[0,1,2].map(function(g){\n"
	"   var q=p.pauses_us[g];return ['gen'+g,p.gc.collections[g],p.gc_during.collections[g],p.gc.collected[g],p.gc.uncollectable[g],q.count,us(q.p50),us(q.p99),us(q.max)];})));\n"
	"  root.appendChild(el('div',{},'gc.garbage '+p.gc.garbage+', GC time share '+(p.gc_time_pct===null?'-':p.gc_time_pct.toFixed(2)+'%')+\n"
	"   (p.rss?', RSS '+bytes(p.rss.start)+' \\u2192 '+bytes(p.rss.end)+' ('+bytes(p.rss.slope_bytes_per_min)+'/min)':'')));}\n"
	" var c=el('div',{'class':'charts'});root.appendChild(c);\n"
	" function pts(k){return d.t.map(function(x,j){return [x-t0,d[k][j]];});}\n"
	" var X0=d.t.length?d.t[0]-t0:undefined,X1=d.t.length?d.t[d.t.length-1]-t0:undefined;\n"
	" function ax(o){o.x0=X0;o.x1=X1;return o;}\n"
	" c.appendChild(chart('RSS',[{name:'rss',pts:pts('rss')}],ax({yfmt:bytes})));\n"
	" c.appendChild(stacked('RSS by part (stacked)',d.mem.map(function(r){return [r[0]-t0].concat(r.slice(1));}),"
	"['arenas','heap','anon','stacks','file','other'],ax({})));\n"
	" c.appendChild(chart('live objects',[{name:'live',pts:pts('live')}],ax({})));\n"
	" c.appendChild(chart('GC pauses (each collection)',[0,1,2].map(function(g){return {name:'gen'+g,color:COL[g],pts:d.ev.filter(function(e){return e[2]===g;}).map(function(e){return [e[0]-t0,e[1]];})};}),ax({scatter:true,yfmt:us,zero:true})));\n"
	" c.appendChild(chart('collections per generation (cumulative)',[0,1,2].map(function(g){return {name:'gen'+g,color:COL[g],pts:d.t.map(function(x,j){return [x-t0,d.coll[g][j]];})};}),ax({})));\n"
	" c.appendChild(chart('growth per type',d.types.map(function(ty){return {name:ty.name,pts:ty.pts.map(function(q){return [q[0]-t0,q[1]];})};}),ax({})));\n"
	" ['types','containers'].forEach(function(k){root.appendChild(el('h3',{},'growing '+k));\n"
	"  if(!p[k].length)root.appendChild(none());else root.appendChild(table(['name','first','last','delta','per min'],p[k].map(function(g){\n"
	"   return [g.name,g.first_count!==undefined?g.first_count:g.first_length,g.last_count!==undefined?g.last_count:g.last_length,g.delta,fmt(g.per_min)];})));});\n"
	" root.appendChild(el('h3',{},'suspects'));\n"
	" if(!p.suspects.length)root.appendChild(none());else root.appendChild(table(['kind','name','per min','confidence','diagnosis','held by','part of','evidence'],p.suspects.map(function(s){return [s.kind,s.name,fmt(s.per_min),s.confidence,s.diagnosis||'',s.chain?(s.chain.status+': '+s.chain.text):'',s.explained_by||'',s.evidence||''];})));\n"
	" root.appendChild(el('h3',{},'allocation sites'));\n"
	" if(!p.sites.length)root.appendChild(none());else root.appendChild(table(['count','stack'],p.sites.map(function(s){return [s.count,s.stack];})));\n"
	" root.appendChild(flame('allocation sites (flame graph: sampled stacks)',p.sites.map(function(s){return {stack:s.stack,value:s.count};})));\n"
	" root.appendChild(el('h3',{},'survivors (sampled objects still alive)'));\n"
	" var sur=p.survivors||[];\n"
	" if(!sur.length)root.appendChild(none());else root.appendChild(table(['type','alive','survived','sampled','stack'],sur.map(function(s){return [vis(s.type||'?'),s.alive,s.survived,s.sampled,vis(s.stack)];})));\n"
	" root.appendChild(flame('survivors (flame graph: type, then the allocating stack)',sur.map(function(s){return {stack:s.stack,type:s.type||'?',value:s.alive};})));\n"
	" var nat=p.native||[];\n"
	" if(nat.length){root.appendChild(el('h3',{},'native memory (record --native: outstanding at the last heap walk)'));\n"
	"  root.appendChild(table(['bytes','growth/min','blocks','caller','stack'],nat.map(function(s){return [bytes(s.bytes),bytes(s.per_min),s.outstanding,s.caller||'?',s.stack];})));\n"
	"  root.appendChild(flame('native outstanding bytes (flame graph: Python stack, then native frames, the caller last)',nat.map(function(s){return {stack:s.stack,value:s.bytes};})));}\n"
	"});\n"
	"var fam=document.getElementById('families');\n"
	"(S.groups||[]).forEach(function(g){var d=g.series,t0=D.t0;\n"
	" fam.appendChild(el('h2',{},'process family '+g.name+' ('+g.kind+')'));\n"
	" fam.appendChild(table(['command','root pid','workers (max)','recycled','RSS peak','largest process','pause p99','pause max'],"
	"[[g.command,g.root_pid,g.max_workers,g.recycled,bytes(g.rss_peak),bytes(g.rss_max_process),us(g.pause_p99_us<0?null:g.pause_p99_us),us(g.pause_max_us<0?null:g.pause_max_us)]]));\n"
	" fam.appendChild(el('div',{},'members: '+g.members.map(function(m){return m.pid+(m.role==='worker'?'':' ('+m.role+')');}).join(', ')));\n"
	" if(g.median_life_s>0)fam.appendChild(el('div',{},'recycled workers: median life '+g.median_life_s.toFixed(0)+' s, median RSS growth over a life '+bytes(g.median_rss_growth)));\n"
	" fam.appendChild(el('h3',{},'family verdicts'));\n"
	" if(!g.verdicts.length)fam.appendChild(none());else fam.appendChild(table(['verdict','evidence'],g.verdicts.map(function(v){return [v.text,v.evidence];})));\n"
	" var c=el('div',{'class':'charts'});fam.appendChild(c);\n"
	" function pts(k){return d.t.map(function(x,j){return [x-t0,d[k][j]];});}\n"
	" c.appendChild(chart('family RSS',[{name:'all processes',pts:pts('rss')},{name:'largest',pts:pts('rss_max')}],{yfmt:bytes,zero:true}));\n"
	" c.appendChild(chart('workers',[{name:'live',pts:pts('workers')},{name:'recycled',pts:pts('recycled')}],{zero:true}));\n"
	"});\n"
	"fgClick();\n"
	"document.body.setAttribute('data-rendered','1');\n"
	"})();\n"
	"</script>\n";

static int cmp_event_dur_desc(const void *a, const void *b)
{
	const struct trace_event *x = *(const struct trace_event *const *)a, *y = *(const struct trace_event *const *)b;

	return x->duration_us > y->duration_us ? -1 : x->duration_us < y->duration_us;
}

static void html_series(FILE *f, const struct trace *t, int pi)
{
	const struct trace_proc *p = &t->procs[pi];
	int step = p->nsamples > HTML_MAX_SAMPLES ? (p->nsamples + HTML_MAX_SAMPLES - 1) / HTML_MAX_SAMPLES : 1;
	int i, g, n, k = TRACE_TYPES, ntop;
	struct growth top[TOP_N];
	const struct trace_event **ev = NULL;

#define EACH_SAMPLE(fmt_expr)                                                                     \
	for (i = 0, n = 0; i < p->nsamples; i += step, n++) {                                     \
		const struct trace_sample *s = &p->samples[i];                                    \
		(void)s;                                                                          \
		if (n)                                                                            \
			fputc(',', f);                                                            \
		fmt_expr;                                                                         \
	}
	fputs("{\"t\":[", f);
	EACH_SAMPLE(fprintf(f, "%.3f", s->time));
	fputs("],\"rss\":[", f);
	EACH_SAMPLE(fprintf(f, "%llu", (unsigned long long)s->rss));
	fputs("],\"live\":[", f);
	EACH_SAMPLE(s->live_objects >= 0 ? fprintf(f, "%lld", (long long)s->live_objects) : fputs("null", f));
	fputs("],\"coll\":[", f);
	for (g = 0; g < TRACE_NGEN; g++) {
		fputs(g ? ",[" : "[", f);
		EACH_SAMPLE(s->gc_valid ? fprintf(f, "%lld", (long long)s->collections[g]) : fputs("null", f));
		fputc(']', f);
	}
#undef EACH_SAMPLE
	/* Pauses: all of them up to the cap, else the longest ones (what the reader looks for). */
	fputs("],\"ev\":[", f);
	n = p->nevents;
	if (n > HTML_MAX_EVENTS) {
		ev = malloc((size_t)n * sizeof(*ev));
		if (ev) {
			for (i = 0; i < n; i++)
				ev[i] = &p->events[i];
			sort_array(ev, n, sizeof(*ev), cmp_event_dur_desc);
		}
		n = ev ? HTML_MAX_EVENTS : 0;
	}
	for (i = 0; i < n; i++) {
		const struct trace_event *e = ev ? ev[i] : &p->events[i];

		fprintf(f, "%s[%.6f,%.3f,%d]", i ? "," : "", e->time, e->duration_us, e->generation);
	}
	free(ev);
	/* growth per type: the series of the top growing types */
	fputs("],\"types\":[", f);
	ntop = report__growth_of(t, TRACE_TYPES, pi, top, 5);
	for (g = 0; g < ntop; g++) {
		fputs(g ? ",{\"name\":" : "{\"name\":", f);
		report_json__str(f, top[g].name);
		fputs(",\"pts\":[", f);
		for (i = 0, n = 0; i < t->naux[k] && n < HTML_MAX_SAMPLES; i++) {
			const struct trace_aux *a = &t->aux[k][i];

			if (a->proc != pi || strcmp(a->name, top[g].name))
				continue;
			fprintf(f, "%s[%.3f,%lld]", n++ ? "," : "", a->time, (long long)a->count);
		}
		fputs("]}", f);
	}
	fputs("]", f);
	/* RSS breakdown over time: the parts, stacked (at most HTML_MAX_SAMPLES points). */
	fputs(",\"mem\":[", f);
	step = p->nmemory > HTML_MAX_SAMPLES ? (p->nmemory + HTML_MAX_SAMPLES - 1) / HTML_MAX_SAMPLES : 1;
	for (i = 0, n = 0; i < p->nmemory; i += step, n++) {
		const struct trace_memory *m = &p->memory[i];

		fprintf(f, "%s[%.3f,%lld,%lld,%lld,%lld,%lld,%lld]", n ? "," : "", m->time, (long long)m->arenas,
			(long long)m->heap, (long long)m->anon, (long long)m->stacks, (long long)m->file,
			(long long)m->other);
	}
	fputs("]}", f);
}

int report__write_html(const struct trace *t, FILE *f)
{
	int i, err;

	fputs(html_head, f);
	/* JSON inside a non-executed script element: report_json__str() escapes '<', so no "</script>" can occur. */
	fputs("<script type=\"application/json\" id=\"pyleak-data\">{\"t0\":", f);
	report_json__num(f, report__t0(t));
	fputs(",\"summary\":", f);
	err = report__write_json(t, f);
	if (err)
		return err;
	fputs(",\"series\":[", f);
	for (i = 0; i < t->nprocs; i++) {
		if (i)
			fputc(',', f);
		html_series(f, t, i);
	}
	fputs("]}</script>\n", f);
	fputs(html_script, f);
	fputs("</body></html>\n", f);
	return 0;
}
