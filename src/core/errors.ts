/** A model file or folder that cannot be used (missing, unreadable, wrong sha256, wrong shape): one line naming it. */
export class ModelError extends Error {}
