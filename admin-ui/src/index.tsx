/**
 * The console's entry point: mounts the app on `#app`.
 *
 * @module
 */
import { render } from 'solid-js/web'
import { App } from './App.tsx'
import './styles.css'

const root = document.getElementById('app')
if (root === null) throw new Error('index.html has no #app element')
render(() => <App />, root)
