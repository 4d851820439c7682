export { maxPoolGrad } from "./pool-grad";
